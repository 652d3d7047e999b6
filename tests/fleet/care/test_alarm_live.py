"""Over a real server: the live alarm stream delivers a new alarm and its acknowledgement, and a
button's parked long-poll answers "acknowledged" as soon as a caregiver acknowledges."""

import threading
import time

import httpx
import pytest

from fleet.core import clock
from fleetkit import enroll

from alarmkit import SSE, Server, alarm, cancel, person


@pytest.fixture
def server(settings, db):
    running = Server(settings).start()
    yield running
    running.stop()


def test_stream_delivers_a_new_alarm_and_its_acknowledgement(server, db):
    headers, name = person(db, "caregiver")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        button = enroll(http, db, site="Block 4")
        button.events([alarm(1, "old")])
        stream = SSE(http, "/api/v1/live/alarms", headers)
        try:
            assert stream.response.status_code == 200
            assert stream.response.headers["content-type"].startswith("text/event-stream")
            snapshot = stream.next("snapshot")
            assert [(a["ref"], a["state"]) for a in snapshot] == [("old", "received")]

            sent = time.time()
            button.events([alarm(2, "a-2")])
            raised = stream.next("alarm", where=lambda d: d["ref"] == "a-2")
            assert (raised["transition"], raised["device_id"], raised["state"], raised["kind"], raised["category"],
                    raised["group"], raised["stage"]) == ("raised", button.id, "received", "call", "call", "primary", 0)
            assert raised["alarm"]["id"] == raised["alarm_id"] and raised["alarm"]["site"] == "Block 4"
            assert raised["at"] == raised["alarm"]["received_at"]
            assert sent - 5 < clock.parse_iso(raised["at"]) <= raised["time"] < time.time() + 1

            response = http.post("/api/v1/alarms/%d/acknowledge" % raised["alarm_id"], headers=headers)
            assert response.status_code == 200
            acked = stream.next("alarm", where=lambda d: d["alarm_id"] == raised["alarm_id"])
            assert (acked["transition"], acked["state"], acked["alarm"]["acknowledged_by"]) == (
                "acknowledged", "acknowledged", name)

            button.events([cancel(3, "old")])
            cancelled = stream.next("alarm", where=lambda d: d["ref"] == "old")
            assert (cancelled["transition"], cancelled["state"]) == ("cancelled", "cancelled")
        finally:
            stream.close()


def test_long_poll_answers_acknowledged_at_once(server, db):
    headers, _ = person(db, "caregiver")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        button = enroll(http, db)
        stored = button.events([alarm(1, "a-1")]).json()
        cursor = stored["down"]["cursor"]
        assert stored["down"]["alarms"] == {"a-1": "received"}
        alarm_id = http.get("/api/v1/alarms", headers=headers).json()[0]["id"]

        polled = {}

        def park():
            polled["response"] = button.poll(cursor=cursor, wait=30)
            polled["returned"] = time.monotonic()

        poller = threading.Thread(target=park)
        poller.start()
        deadline = time.monotonic() + 10
        while not server.runtime.downlink._waiters.get(button.id):
            assert time.monotonic() < deadline, "the poll never parked"
            time.sleep(0.01)
        acked_at = time.monotonic()
        assert http.post("/api/v1/alarms/%d/acknowledge" % alarm_id, headers=headers).status_code == 200
        poller.join(35)
    down = polled["response"].json()["down"]
    assert down["alarms"] == {"a-1": "acknowledged"} and down["cursor"] > cursor
    # Answered by the acknowledgement, not by the 30 s wait running out.
    assert polled["returned"] - acked_at < 5.0


def test_snapshot_keeps_every_open_alarm(client, db, caregiver):
    """The console's starting point: all open alarms, however many closed ones came after them."""
    from fleet.care import alarms
    headers, _ = caregiver
    button = enroll(client, db)
    button.events([alarm(1, "oldest-open")])
    button.events([alarm(seq, "closed-%d" % seq) for seq in range(2, 12)])
    for found in client.get("/api/v1/alarms", params={"state": "received"}, headers=headers).json():
        if found["ref"] != "oldest-open":
            client.post("/api/v1/alarms/%d/resolve" % found["id"], json={"note": "ok"}, headers=headers)
    snapshot = alarms.console_alarms(db, closed_limit=3)
    assert [a["ref"] for a in snapshot] == ["closed-11", "closed-10", "closed-9", "oldest-open"]
