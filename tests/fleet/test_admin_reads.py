"""An admin request never waits for the database's write lock: reading with an API token
writes nothing on the request's own connection (its "last used" goes through the writer)."""

import sqlite3

import httpx

from fleetkit import bearer, wait_for


def _hold_write_lock(path):
    """Another process's transaction holding SQLite's write lock, as a long writer group would."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_token_request_is_answered_while_another_writer_holds_the_lock(live_server, settings, db):
    headers = bearer(db, "admin")
    holder = _hold_write_lock(settings.db)
    try:
        # SQLite's busy timeout is 10 s: a request that needed the lock would still be waiting.
        response = httpx.get(live_server + "/api/v1/alarms", headers=headers, timeout=5)
        assert response.status_code == 200, response.text
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_the_tokens_last_use_is_still_recorded(live_server, db):
    headers = bearer(db, "admin")
    assert db.conn.execute("SELECT last_used_at FROM api_tokens").fetchone()[0] is None
    assert httpx.get(live_server + "/api/v1/alarms", headers=headers, timeout=5).status_code == 200
    used = wait_for(lambda: db.conn.execute("SELECT last_used_at FROM api_tokens").fetchone()[0],
                    what="last_used_at saved by the writer")
    tokens = httpx.get(live_server + "/api/v1/tokens", headers=headers, timeout=5).json()
    assert tokens[0]["last_used_at"] == used
