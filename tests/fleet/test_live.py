"""The live stream (SSE) over a real server: snapshot first, then changes as they happen."""

import json
import queue
import threading

import httpx
import pytest

from fleet.live import Hub
from fleetkit import bearer, enroll, heartbeat


def sse_events(response, out):
    """Parse a text/event-stream into (event, data) pairs pushed to the queue out."""
    kind, data = None, []
    try:
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and kind:
                out.put((kind, json.loads("\n".join(data))))
                kind, data = None, []
    except httpx.HTTPError:
        pass


def next_event(events, kind, timeout=10):
    while True:
        got_kind, data = events.get(timeout=timeout)
        if got_kind == kind:
            return data


@pytest.mark.parametrize("role", ["admin", "caregiver", "technician"])
def test_status_reaches_the_stream(live_server, db, role):
    headers = bearer(db, role)
    with httpx.Client(base_url=live_server, timeout=30) as http:
        device = enroll(http, db, role="smart_bin")
        events = queue.Queue()
        with http.stream("GET", "/api/v1/live/devices", headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            threading.Thread(target=sse_events, args=(response, events), daemon=True).start()
            snapshot = next_event(events, "snapshot")
            assert [(d["id"], d["status"]) for d in snapshot] == [(device.id, "never_seen")]
            assert "secret" not in json.dumps(snapshot)
            device.events([heartbeat(1)])
            change = next_event(events, "status")
            assert (change["device_id"], change["old"], change["new"]) == (device.id, "never_seen", "online")
            seen = next_event(events, "seen")
            assert device.id in seen
            newcomer = enroll(http, db, role="beacon")
            assert next_event(events, "device")["id"] == newcomer.id


def test_stream_needs_a_login(live_server):
    response = httpx.get(live_server + "/api/v1/live/devices")
    assert response.status_code == 401


def test_hub_drops_a_subscriber_that_cannot_keep_up():
    import asyncio

    async def scenario():
        hub = Hub()
        hub.attach(asyncio.get_running_loop())
        slow = hub.subscribe("devices", maxsize=2)
        fast = hub.subscribe("devices", maxsize=100)
        other = hub.subscribe("alarms")
        for i in range(5):
            hub.publish("devices", "seen", {"n": i})
        received = [msg async for msg in slow]          # ends: it was dropped
        first = await fast.__anext__()
        return received, first, hub.subscribers, other.queue.qsize()

    received, first, left, other_size = asyncio.run(scenario())
    assert received == [] and first["data"] == {"n": 0}
    assert left == 2 and other_size == 0


def test_publish_from_another_thread():
    import asyncio

    async def scenario():
        hub = Hub()
        hub.attach(asyncio.get_running_loop())
        async with hub.subscribe("devices") as sub:
            threading.Thread(target=hub.publish, args=("devices", "status", {"x": 1})).start()
            return await asyncio.wait_for(sub.__anext__(), 10)

    assert asyncio.run(scenario())["kind"] == "status"
