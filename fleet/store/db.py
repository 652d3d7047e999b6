"""Opening the database: one SQLite file, WAL, durable commits, migrations applied.

Connections run in autocommit mode (isolation_level=None) so that every transaction in
the fleet is explicit: write_tx() for writes (BEGIN IMMEDIATE: take the write lock at the
start, so a busy database waits instead of failing half-way), plain reads otherwise.
"""

import contextlib
import sqlite3
from pathlib import Path

import sqlite_utils

from fleet.store import migrations

BUSY_TIMEOUT_MS = 10_000


def connect(path):
    """A sqlite-utils Database on its own connection, with the fleet's pragmas."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute("PRAGMA busy_timeout=%d" % BUSY_TIMEOUT_MS)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before COMMIT returns, so an ack survives a power cut.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return sqlite_utils.Database(conn)


def open_db(path, all_migrations=()):
    """Connect to (creating if needed) the database at path and apply those of all_migrations it
    lacks (fleet.schema.open_db passes the whole fleet's: fleet.schema.MIGRATIONS)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(path)
    if all_migrations:
        migrations.apply(db, all_migrations)
    return db


@contextlib.contextmanager
def write_tx(db):
    """One write transaction: commit on success, roll back on any error."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def row(db, sql, params=()):
    """First row of a query as a dict, or None."""
    cur = db.conn.execute(sql, params)
    values = cur.fetchone()
    if values is None:
        return None
    return dict(zip([d[0] for d in cur.description], values))


def rows(db, sql, params=()):
    cur = db.conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, values)) for values in cur.fetchall()]
