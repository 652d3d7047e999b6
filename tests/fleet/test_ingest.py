"""Events: stored once per (device, stream, seq), acked up to the highest contiguous seq,
handlers run exactly once, a failing handler sinks only its own request."""

import concurrent.futures
import time

import pytest

from fleet.domain import ingest
from fleet.domain.writer import CallJob
from fleetkit import count, enroll, heartbeat


def seqs(db, device_id, stream=1):
    return [r[0] for r in db.conn.execute("SELECT seq FROM events WHERE device_id = ? AND stream = ? ORDER BY seq",
                                          (device_id, stream))]


def ack_of(response):
    assert response.status_code == 200, response.text
    body = response.json()
    return body["ack"], body["stored"], body["duplicates"]


def test_batch_is_stored_and_acked(device, db):
    assert ack_of(device.events([heartbeat(1, battery_v=3.0), heartbeat(2), heartbeat(3)])) == (3, 3, 0)
    assert seqs(db, device.id) == [1, 2, 3]
    row = db.conn.execute("SELECT type, data, at, received_at, generation FROM events WHERE seq = 1").fetchone()
    assert row[0] == "heartbeat" and row[1] == '{"battery_v":3.0}' and row[4] == 1
    assert row[2].endswith("Z") and row[3].endswith("Z")


def test_retried_batch_has_no_second_effect(device, db):
    batch = [heartbeat(1), heartbeat(2)]
    assert ack_of(device.events(batch)) == (2, 2, 0)
    assert ack_of(device.events(batch)) == (2, 0, 2)
    assert ack_of(device.events(batch + [heartbeat(3)])) == (3, 1, 2)
    assert seqs(db, device.id) == [1, 2, 3]


def test_gap_holds_the_ack_until_filled(device, db):
    assert ack_of(device.events([heartbeat(1), heartbeat(2), heartbeat(5)])) == (2, 3, 0)
    assert ack_of(device.events([heartbeat(4)])) == (2, 1, 0)
    assert ack_of(device.events([heartbeat(3)])) == (5, 1, 0)        # the gap closes: ack jumps past 4 and 5
    assert ack_of(device.events([heartbeat(5), heartbeat(6)])) == (6, 1, 1)
    assert seqs(db, device.id) == [1, 2, 3, 4, 5, 6]


def test_out_of_order_and_repeated_inside_one_batch(device, db):
    assert ack_of(device.events([heartbeat(3), heartbeat(1), heartbeat(3), heartbeat(2)])) == (3, 3, 1)
    assert seqs(db, device.id) == [1, 2, 3]


def test_streams_are_kept_apart(device, db):
    assert ack_of(device.events([heartbeat(1), heartbeat(2)], stream=7)) == (2, 2, 0)
    assert ack_of(device.events([heartbeat(1)], stream=8)) == (1, 1, 0)   # a new stream restarts at 1
    assert ack_of(device.events([heartbeat(1)], extra={}, stream=0)) == (1, 1, 0)
    assert seqs(db, device.id, 7) == [1, 2] and seqs(db, device.id, 8) == [1]


def test_stream_defaults_to_zero(device, db):
    response = device.request("POST", "/api/v1/device/events", {"events": [heartbeat(1)]})
    assert ack_of(response) == (1, 1, 0)
    assert seqs(db, device.id, 0) == [1]


def test_hello_reports_the_ack_of_the_reported_stream(device, db):
    device.events([heartbeat(1), heartbeat(2), heartbeat(4)], stream=9)
    body = device.hello(stream=9, seq=4, cv=1, rssi=-60, errors=["boom"]).json()
    assert body["device_id"] == device.id and body["ack"] == 2
    assert device.hello(stream=10).json()["ack"] == 0
    row = db.conn.execute("SELECT fw, rssi, reported_cv, hello_errors, last_hello FROM devices").fetchone()
    assert row[:4] == ("1.29.0", None, None, None) and row[4]   # the last hello (stream 10) had no rssi/cv/errors


def test_clock_unknown_uses_the_time_stored(device, db):
    device.events([heartbeat(1, t=5), heartbeat(2, t=1_800_000_000)])
    (at_unknown, received), (at_known, _) = db.conn.execute("SELECT at, received_at FROM events ORDER BY seq")
    assert at_unknown == received
    assert at_known == "2027-01-15T08:00:00.000Z"


def test_acks_survive_a_restart(client, device, db, settings):
    from fastapi.testclient import TestClient
    from fleet.main import create_app
    device.events([heartbeat(1), heartbeat(3)])
    client.__exit__(None, None, None)
    with TestClient(create_app(settings)) as again:
        device.http = again
        assert ack_of(device.events([heartbeat(2), heartbeat(3)])) == (3, 1, 1)


def test_concurrent_requests_share_commits(live_server, db):
    import httpx
    with httpx.Client(base_url=live_server) as http:
        devices = [enroll(http, db) for _ in range(8)]
        before = count(db, "events")

        def send(i):
            d = devices[i % len(devices)]
            return ack_of(d.events([heartbeat(i // len(devices) + 1)]))

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(send, range(160)))
    assert all(stored == 1 for _, stored, _ in results)
    assert count(db, "events") - before == 160
    for d in devices:
        assert seqs(db, d.id) == list(range(1, 21))


@pytest.fixture
def recorded():
    calls = []
    undo = ingest.register_event_handler("error", lambda tx, dev, ev: calls.append((dev.id, ev["seq"], ev["data"])))
    yield calls
    undo()


def test_handlers_run_once_per_new_event(device, recorded):
    error = {"seq": 1, "t": int(time.time()), "type": "error", "data": {"msg": "overheat"}}
    device.events([error, heartbeat(2)])
    device.events([error, heartbeat(2)])
    device.events([dict(error, seq=3)])
    assert recorded == [(device.id, 1, {"msg": "overheat"}), (device.id, 3, {"msg": "overheat"})]


def test_handler_writes_commit_with_the_event_and_can_change_the_downlink(device, db):
    def on_error(tx, dev, event):
        tx.conn.execute("INSERT INTO audit (at, actor, action, target) VALUES (?, ?, 'test.handler', ?)",
                        (tx.now_iso, "device:" + dev.id, str(event["id"])))
        tx.mark_downlink_changed(dev.id)
    undo = ingest.register_event_handler("error", on_error)
    try:
        cursor = device.poll(wait=1).json()["down"]["cursor"]
        body = device.events([{"seq": 1, "t": 1, "type": "error", "data": {"msg": "x"}}]).json()
    finally:
        undo()
    event_id = db.conn.execute("SELECT id FROM events").fetchone()[0]
    assert db.conn.execute("SELECT target FROM audit WHERE action = 'test.handler'").fetchone()[0] == str(event_id)
    assert body["down"]["cursor"] == cursor + 1


def test_failing_handler_sinks_only_its_request(live_server, db):
    import httpx
    http = httpx.Client(base_url=live_server)
    a, b = enroll(http, db), enroll(http, db)

    def explode(tx, dev, event):
        if dev.id == a.id:
            raise RuntimeError("handler bug")
    undo = ingest.register_event_handler("error", explode)
    try:
        bad = a.events([heartbeat(1), {"seq": 2, "t": 1, "type": "error", "data": {"msg": "x"}}])
        good = b.events([heartbeat(1), {"seq": 2, "t": 1, "type": "error", "data": {"msg": "x"}}])
    finally:
        undo()
    assert bad.status_code == 500 and bad.json()["error"]["code"] == "internal"
    assert ack_of(good) == (2, 2, 0)
    assert seqs(db, a.id) == [] and seqs(db, b.id) == [1, 2]
    assert ack_of(a.events([heartbeat(1)])) == (1, 1, 0)   # the writer goes on


def test_writer_answers_jobs_of_one_group_separately(client):
    rt = client.app.state.fleet

    def fail(tx):
        raise ValueError("no")

    async def both():
        import asyncio
        ok = rt.writer.call(lambda tx: tx.conn.execute("SELECT 41 + 1").fetchone()[0])
        bad = rt.writer.submit(CallJob(fail))
        return await asyncio.gather(ok, bad, return_exceptions=True)

    ok, bad = client.portal.call(both)
    assert ok == 42 and isinstance(bad, ValueError)


def test_register_event_handler_refuses_unknown_types():
    with pytest.raises(ValueError):
        ingest.register_event_handler("teleport", lambda *a: None)
