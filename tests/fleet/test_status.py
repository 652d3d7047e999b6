"""Liveness: never seen, online, offline by a per-role timeout, stored and announced."""

import asyncio
import json

import pytest

from fleet.core import clock
from fleet.core.config import Settings
from fleet.domain import status
from fleet.domain.status import StatusBoard
from fleetkit import enroll, heartbeat, wait_for


def add_device(db, device_id, role, config=None, status_="never_seen", last_seen=None):
    db.conn.execute("INSERT INTO devices (id, hw_id, role, secret_enc, config, status, last_seen) "
                    "VALUES (?, ?, ?, x'00', ?, ?, ?)",
                    (device_id, device_id[-12:].rjust(12, "0"), role, json.dumps(config or {}), status_, last_seen))


@pytest.fixture
def board_settings():
    return Settings(heartbeat_grace_s=600, report_intervals_offline=2, report_grace_s=300)


# "sensor" stands for any role without a rule of its own: capabilities register theirs
# (fleet/waste: smart_bin) when imported, and the core's rules must not depend on which are.
def test_rules_per_role(board_settings):
    assert status.silence_allowed("call_button", {"heartbeat_min": 60}, board_settings) == 3600 + 600
    assert status.silence_allowed("call_button", {}, board_settings) == 1440 * 60 + 600
    assert status.silence_allowed("sensor", {"report_min": 10}, board_settings) == 2 * 600 + 300
    assert status.silence_allowed("sensor", {"report_min": 60}, board_settings) == 2 * 3600 + 300


def test_never_seen_online_offline(db, board_settings):
    add_device(db, "cb-aaaaaaaaaa", "call_button", {"heartbeat_min": 60})
    add_device(db, "sb-bbbbbbbbbb", "sensor", {"report_min": 10})
    board = StatusBoard(board_settings)
    board.load(db)
    t0 = 2_000_000_000.0
    assert board.evaluate(t0) == []                                  # never seen stays never seen
    assert board.status("cb-aaaaaaaaaa") == ("never_seen", None)
    board.touch("cb-aaaaaaaaaa", t0)
    board.touch("sb-bbbbbbbbbb", t0)
    changes = board.evaluate(t0)
    assert [(c.device_id, c.old, c.new) for c in changes] == [
        ("cb-aaaaaaaaaa", "never_seen", "online"), ("sb-bbbbbbbbbb", "never_seen", "online")]
    # the bin goes silent first: 2 x 10 min + 5 min
    assert board.evaluate(t0 + 1500) == []
    [gone] = board.evaluate(t0 + 1501)
    assert (gone.device_id, gone.old, gone.new) == ("sb-bbbbbbbbbb", "online", "offline")
    assert gone.last_seen == clock.iso(t0)
    # the button: heartbeat 60 min + grace 10 min
    assert board.evaluate(t0 + 4200) == []
    assert [c.device_id for c in board.evaluate(t0 + 4201)] == ["cb-aaaaaaaaaa"]
    # hearing from it again brings it back at once
    board.touch("cb-aaaaaaaaaa", t0 + 5000)
    [back] = board.evaluate(t0 + 5000)
    assert (back.old, back.new) == ("offline", "online")


def test_revoked_devices_have_no_liveness(db, board_settings):
    add_device(db, "cb-cccccccccc", "call_button")
    db.conn.execute("UPDATE devices SET revoked_at = '2024-01-01T00:00:00.000Z'")
    board = StatusBoard(board_settings)
    board.load(db)
    board.touch("cb-cccccccccc", 2_000_000_000.0)
    assert board.evaluate(2_000_000_000.0) == []
    assert board.status("cb-cccccccccc")[0] == "revoked"


def test_custom_rule_and_listener(db, board_settings):
    undo_rule = status.register_status_rule("beacon", lambda config, settings: 5)
    try:
        add_device(db, "bc-dddddddddd", "beacon")
        board = StatusBoard(board_settings)
        board.load(db)
        board.touch("bc-dddddddddd", 100.0)
        board.evaluate(100.0)
        assert [c.new for c in board.evaluate(106.0)] == ["offline"]
    finally:
        undo_rule()
    assert status.silence_allowed("beacon", {}, board_settings) == 2 * 3600 + 300


def test_supervisor_stores_and_announces(client, db):
    rt = client.app.state.fleet
    heard = []
    undo = status.register_status_listener(heard.append)
    subscription = rt.hub.subscribe("devices")
    try:
        device = enroll(client, db, role="smart_bin")
        device.events([heartbeat(1)])
        wait_for(lambda: db.conn.execute("SELECT status, last_seen FROM devices").fetchone()[0] == "online")
        assert db.conn.execute("SELECT last_seen FROM devices").fetchone()[0]
        wait_for(lambda: heard)     # listeners run on the loop just after the commit
        assert [(c.device_id, c.new) for c in heard] == [(device.id, "online")]
        # pretend it was heard from long ago; the next tick finds it silent
        rt.board._devices[device.id].last_seen -= 10 * 86400
        wait_for(lambda: len(heard) == 2)
        assert heard[1].new == "offline"
        assert db.conn.execute("SELECT status FROM devices").fetchone()[0] == "offline"
    finally:
        undo()
    kinds = []
    while not subscription.queue.empty():
        kinds.append(subscription.queue.get_nowait()["kind"])
    subscription.close()
    assert "status" in kinds and "seen" in kinds and "device" in kinds


def test_restart_announces_devices_that_went_silent_meanwhile(settings, db):
    from fastapi.testclient import TestClient
    from fleet.main import create_app
    long_ago = clock.iso(clock.now() - 3 * 86400)
    add_device(db, "cb-eeeeeeeeee", "call_button", {"heartbeat_min": 60}, "online", long_ago)
    heard = []
    undo = status.register_status_listener(heard.append)
    try:
        with TestClient(create_app(settings)):
            wait_for(lambda: heard)
    finally:
        undo()
    assert (heard[0].device_id, heard[0].old, heard[0].new, heard[0].last_seen) == (
        "cb-eeeeeeeeee", "online", "offline", long_ago)
    assert db.conn.execute("SELECT status FROM devices").fetchone()[0] == "offline"


def test_board_wait_returns_early_when_woken(board_settings):
    board = StatusBoard(board_settings)

    async def scenario():
        asyncio.get_running_loop().call_later(0.01, board.wake)
        started = asyncio.get_running_loop().time()
        await board.wait(30)
        return asyncio.get_running_loop().time() - started

    assert asyncio.run(scenario()) < 30
