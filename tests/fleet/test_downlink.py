"""The downlink: providers add keys, every change raises the cursor, a long-poll wakes at once."""

import concurrent.futures
import threading
import time

import devproto
import httpx
import pytest

from fleet.domain import downlink
from fleetkit import enroll, heartbeat, wait_for

LONG = 30   # a long-poll wait no test may reach: returning before it proves the wake-up


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server, timeout=LONG + 10) as client:
        yield client


def poll_in_background(device, cursor):
    pool = concurrent.futures.ThreadPoolExecutor(1)
    started = time.monotonic()
    future = pool.submit(lambda: (device.poll(cursor=cursor, wait=LONG), time.monotonic() - started))
    pool.shutdown(wait=False)
    return future


def test_poll_returns_at_once_when_the_device_is_behind(http, db):
    device = enroll(http, db)
    response = device.poll(cursor=0, wait=LONG)
    assert response.status_code == 200 and response.json()["down"]["cursor"] == 1


def test_poll_times_out_with_the_current_down(http, db):
    device = enroll(http, db)
    body = device.poll(cursor=1, wait=1, cv=1).json()
    assert body["down"]["cursor"] == 1 and "config" not in body["down"]


def test_a_command_wakes_the_long_poll(http, db, admin_headers):
    device = enroll(http, db)
    future = poll_in_background(device, cursor=1)
    time.sleep(0.3)   # let the poll get parked; the assertion below does not depend on it
    http.post("/api/v1/devices/%s/commands" % device.id, json={"name": "identify"}, headers=admin_headers)
    response, elapsed = future.result(LONG + 5)
    assert elapsed < LONG
    down = response.json()["down"]
    assert down["cursor"] == 2 and down["commands"][0]["name"] == "identify"


def test_bump_from_another_thread_wakes_the_poll(client, device, db):
    rt = client.app.state.fleet
    results = []
    thread = threading.Thread(target=lambda: results.append(device.poll(cursor=1, wait=LONG)))
    started = time.monotonic()
    thread.start()
    wait_for(lambda: rt.downlink._waiters.get(device.id))   # parked on the device's future
    bumper = rt.connect()
    rt.downlink.bump(bumper, device.id)
    bumper.close()
    thread.join(LONG + 5)
    assert time.monotonic() - started < LONG
    assert results[0].json()["down"]["cursor"] == 2


def test_event_handler_marking_the_downlink_wakes_the_poll(client, device):
    rt = client.app.state.fleet
    from fleet.domain import ingest
    undo = ingest.register_event_handler("error", lambda tx, dev, ev: tx.mark_downlink_changed(dev.id))
    other = enroll(client, rt.reader)
    results = []
    try:
        thread = threading.Thread(target=lambda: results.append(other.poll(cursor=1, wait=LONG)))
        thread.start()
        wait_for(lambda: rt.downlink._waiters.get(other.id))
        assert other.events([{"seq": 1, "t": 1, "type": "error", "data": {"msg": "x"}}]).json()["down"]["cursor"] == 2
        thread.join(LONG + 5)
    finally:
        undo()
    assert results[0].json()["down"]["cursor"] == 2


def test_providers_add_keys_per_role(client, db):
    def alarms(database, device):
        return {"a-1": "received"}
    # `alarms` has its real provider (fleet.care.alarms): replace it for this test.
    undo = downlink.register_downlink_provider("alarms", alarms, roles=("call_button",), replace=True)
    try:
        button = enroll(client, db, role="call_button")
        beacon = enroll(client, db, role="beacon")
        assert button.hello().json()["down"]["alarms"] == {"a-1": "received"}
        assert "alarms" not in beacon.hello().json()["down"]
        with pytest.raises(ValueError):
            downlink.register_downlink_provider("alarms", alarms)
        with pytest.raises(ValueError):
            downlink.register_downlink_provider("cursor", alarms)
    finally:
        undo()
    client.app.state.fleet.downlink.notify([button.id])    # drop the cached down
    assert button.hello().json()["down"]["alarms"] == {}    # the real provider again: no alarms


def test_replacing_the_update_provider(client, device):
    undo = downlink.register_downlink_provider("update", lambda db, dev: {"version": "0.4.0"}, replace=True)
    try:
        client.app.state.fleet.downlink.notify([device.id])
        assert device.hello().json()["down"]["update"] == {"version": "0.4.0"}
    finally:
        undo()
    client.app.state.fleet.downlink.notify([device.id])
    assert device.hello().json()["down"]["update"] is None


def test_every_response_carries_down(device):
    for response in (device.hello(), device.events([heartbeat(1)]), device.poll(cursor=0)):
        assert set(response.json()["down"]) >= {"cursor", "config_version", "commands", "update"}


def test_config_follows_the_cv_of_each_request_and_is_always_whole(client, device, admin_headers):
    assert client.put("/api/v1/devices/%s/config" % device.id, json={"heartbeat_min": 60},
                      headers=admin_headers).status_code == 200
    down = device.hello(cv=1).json()["down"]
    cv = down["config_version"]
    assert cv > 1 and down["config"]["heartbeat_min"] == 60
    assert set(down["config"]) == set(devproto.CONFIG)             # the whole config, not the change
    assert "config" not in device.hello(cv=cv).json()["down"]       # this request runs the latest
    # nothing is remembered between requests: without cv (or with an old one) it comes again
    assert device.events([heartbeat(1)]).json()["down"]["config"]["heartbeat_min"] == 60
    assert "config" in device.poll(cursor=0, cv=cv - 1).json()["down"]
    assert "config" not in device.poll(cursor=0, cv=cv).json()["down"]


def test_a_config_change_by_another_process_wakes_the_long_poll(http, db):
    """`fleet device config` runs in its own process: the server learns of it from the device change
    log and answers the parked poll with the new config, long before the poll's wait is over."""
    from fleet.domain import devices
    from fleetkit import CLI

    device = enroll(http, db)
    future = poll_in_background(device, cursor=1)
    time.sleep(0.3)   # let the poll get parked; the assertion below does not depend on it
    devices.set_config(db, CLI, device.id, {"heartbeat_min": 30})    # its own connection, as the CLI's
    response, elapsed = future.result(LONG + 5)
    assert elapsed < LONG
    down = response.json()["down"]
    assert down["cursor"] == 2 and down["config"]["heartbeat_min"] == 30
