"""Supervision: a silent call button raises "device missing", a low battery raises a maintenance
alarm; both resolve themselves (audited) when the button is heard again / the battery recovers."""

import threading
import time

import httpx
import pytest

from fleet.domain import audit
from fleet.domain.status import register_status_rule
from fleetkit import enroll

from alarmkit import Server, battery_low, heartbeat, person, wait_for


@pytest.fixture
def one_second_silence():
    """Call buttons count as offline after 1 s of silence (instead of heartbeat_min + grace)."""
    undo = register_status_rule("call_button", lambda config, settings: 1)
    yield
    undo()


def alarms_of(client, headers, device_id, kind):
    return client.get("/api/v1/alarms", params={"device_id": device_id, "kind": kind}, headers=headers).json()


def one(found):
    return found[0] if len(found) == 1 else None


def test_missing_button_raises_and_clears(one_second_silence, client, db, caregiver):
    headers, _ = caregiver
    button = enroll(client, db)
    quiet = enroll(client, db)                   # never heard from: never "missing"
    button.events([heartbeat(1, battery_v=3.0)])
    missing = wait_for(lambda: one(alarms_of(client, headers, button.id, "device_missing")), what="missing alarm")
    assert (missing["category"], missing["state"], missing["ref"], missing["next_escalation_at"]) == (
        "supervision", "received", None, None)
    assert alarms_of(client, headers, quiet.id, "device_missing") == []

    button.events([heartbeat(2, battery_v=3.0)])       # heard again
    cleared = wait_for(lambda: (lambda a: a if a and a["state"] == "resolved" else None)(
        one(alarms_of(client, headers, button.id, "device_missing"))), what="missing alarm cleared")
    assert cleared["resolved_by"] == "fleet" and "heard again" in cleared["resolution_note"]
    detail = client.get("/api/v1/alarms/%d" % cleared["id"], headers=headers).json()
    assert [h["action"] for h in detail["history"]] == ["raised", "auto_resolved"]
    assert [e["action"] for e in audit.entries(db) if e["target"] == "alarm:%d" % cleared["id"]] == [
        "alarm.auto_resolved", "alarm.raised"]


def test_missing_found_at_start(settings, db):
    """A status stored as offline (e.g. just before a crash) without its alarm gets one at start."""
    headers, _ = person(db, "caregiver")
    server = Server(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            button = enroll(http, db)
    finally:
        server.stop()
    db.conn.execute("UPDATE devices SET status = 'offline', last_seen = '2020-01-01T00:00:00.000Z' WHERE id = ?",
                    (button.id,))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            found = wait_for(lambda: one(alarms_of(http, headers, button.id, "device_missing")), what="reconciled")
    finally:
        server.stop()
    assert found["state"] == "received"


def test_battery_low_event_and_recovery(client, db, caregiver):
    headers, _ = caregiver
    button = enroll(client, db)
    button.events([battery_low(1, 2.85, days_left=30)])
    low = one(alarms_of(client, headers, button.id, "battery_low"))
    assert (low["category"], low["battery_v"], low["days_left"]) == ("supervision", 2.85, 30)
    button.events([battery_low(2, 2.84, days_left=29)])            # no second alarm
    assert len(alarms_of(client, headers, button.id, "battery_low")) == 1

    # 2.95 V is above the 2.7 V threshold but not a recovery from 2.85 V (needs 3.05 V)...
    button.events([heartbeat(3, battery_v=2.95)])
    top = db.conn.execute("SELECT max(id) FROM events").fetchone()[0]
    wait_for(lambda: db.conn.execute("SELECT value FROM alarm_state WHERE name = 'battery_scan_event_id'")
             .fetchone()[0] >= top, what="scan past the heartbeat")
    assert one(alarms_of(client, headers, button.id, "battery_low"))["state"] == "received"
    # ...a new battery is.
    button.events([heartbeat(4, battery_v=3.21)])
    done = wait_for(lambda: (lambda a: a if a["state"] == "resolved" else None)(
        one(alarms_of(client, headers, button.id, "battery_low"))), what="battery alarm cleared")
    assert done["resolved_by"] == "fleet" and "3.21 V" in done["resolution_note"]


def test_battery_low_from_heartbeats(client, db, caregiver):
    headers, _ = caregiver
    button = enroll(client, db)
    bin_ = enroll(client, db, role="smart_bin")
    bin_.events([heartbeat(1, battery_v=2.1)])                     # not a call button: not ours
    button.events([heartbeat(1, battery_v=3.0), heartbeat(2, battery_v=2.55)])
    low = wait_for(lambda: one(alarms_of(client, headers, button.id, "battery_low")), what="low battery alarm")
    assert low["battery_v"] == 2.55 and low["state"] == "received"
    button.events([heartbeat(3, battery_v=2.5)])
    button.events([heartbeat(4, battery_v=2.95)])                  # >= max(2.7, 2.55) + 0.2
    wait_for(lambda: one(alarms_of(client, headers, button.id, "battery_low"))["state"] == "resolved",
             what="recovered")
    assert client.get("/api/v1/alarms", params={"device_id": bin_.id}, headers=headers).json() == []


def test_stopping_the_fleet_mid_scan_leaves_the_scan_its_database(settings, db, monkeypatch):
    # The scan reads in a worker thread that a shutdown cannot stop; the connection it reads
    # must not be closed under it (that crashed the process once: a segfault in SQLite).
    from fastapi.testclient import TestClient

    from fleet.care import supervision
    from fleet.main import create_app

    started, outcome = threading.Event(), []
    real = supervision.read_battery_readings

    def slow_read(conn_db, after_id):
        started.set()
        time.sleep(0.5)                          # the fleet stops meanwhile
        try:
            outcome.append(real(conn_db, after_id))
        except Exception as ex:                  # e.g. "Cannot operate on a closed database"
            outcome.append(ex)
            raise
        return outcome[-1]

    monkeypatch.setattr(supervision, "read_battery_readings", slow_read)
    with TestClient(create_app(settings)):
        assert started.wait(10), "no battery scan started"
    wait_for(lambda: outcome, what="the scan to finish")
    assert not isinstance(outcome[0], Exception), outcome[0]
