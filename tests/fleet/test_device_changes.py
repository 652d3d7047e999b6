"""The device change log: every change to what a running server caches about a device is logged,
whoever makes it; the hot path's own writes (hello, last seen) are not."""

import pytest

from fleet.domain import changes, devices
from fleet.store.db import write_tx
from fleetkit import CLI, count, enroll


@pytest.fixture
def feed(db):
    return changes.ChangeFeed(db)


def test_a_new_feed_starts_after_what_is_already_logged(client, db, device):
    devices.revoke(db, CLI, device.id)
    assert count(db, "device_changes") >= 1
    assert changes.ChangeFeed(db).poll() == (set(), set())


def test_revoke_config_and_cursor_are_logged_by_kind(client, db, feed):
    one, two = enroll(client, db), enroll(client, db)
    devices.revoke(db, CLI, one.id)
    assert feed.poll() == (set(), {one.id})
    with write_tx(db):
        db.conn.execute("UPDATE devices SET cursor = cursor + 1 WHERE id = ?", (two.id,))
    assert feed.poll() == ({two.id}, set())
    devices.set_config(db, CLI, two.id, {"heartbeat_min": 30})       # config and the cursor
    assert feed.poll() == ({two.id}, {two.id})
    assert feed.poll() == (set(), set())                              # each change read once


def test_hello_and_last_seen_writes_are_not_logged(client, db, feed):
    device = enroll(client, db)
    feed.poll()
    assert device.hello().status_code == 200
    with write_tx(db):
        db.conn.execute("UPDATE devices SET last_seen = '2026-12-07T00:00:00Z', status = 'online', "
                        "rssi = -60 WHERE id = ?", (device.id,))
    assert feed.poll() == (set(), set())


def test_a_deleted_device_is_logged(db, feed):
    with write_tx(db):
        db.conn.execute("INSERT INTO devices (id, hw_id, role, secret_enc) VALUES ('cb-x', 'hw-x', 'call_button', x'00')")
        db.conn.execute("DELETE FROM devices WHERE id = 'cb-x'")
    assert feed.poll() == (set(), {"cb-x"})


def test_pruned_rows_are_never_numbered_again(db, feed):
    with write_tx(db):
        db.conn.execute("INSERT INTO devices (id, hw_id, role, secret_enc) VALUES ('cb-x', 'hw-x', 'call_button', x'00')")
        db.conn.execute("UPDATE devices SET revoked_at = 'now' WHERE id = 'cb-x'")
    feed.poll()
    with write_tx(db):
        changes.prune(db.conn, feed.seq)
    assert count(db, "device_changes") == 0
    with write_tx(db):
        db.conn.execute("UPDATE devices SET revoked_at = NULL WHERE id = 'cb-x'")
    assert feed.poll() == (set(), {"cb-x"})      # seq did not restart at 1 below the feed's mark
