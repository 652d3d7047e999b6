"""A bin's events through the real signed device API: fill history and state, emptied confirms
a stop, fire raises an urgent alarm in the alarm pipeline, tilted / sensor faults / not
reporting are maintenance; impossible readings are refused and store nothing."""

import time

from binkit import add_bin, admin_headers, bin_device, event, fill
from fleetkit import bearer, count


def test_fill_history_and_state(client, db):
    admin = admin_headers(db)
    dev = bin_device(client, db)
    add_bin(client, admin, "B1", device=dev)
    t = int(time.time()) - 3600
    r = dev.events([fill(1, 20, t, mm=800, temp_c=21.5), fill(2, 35, t + 1800, mm=650)])
    assert r.status_code == 200 and r.json()["ack"] == 2
    b = client.get("/api/v1/bins/B1", headers=admin).json()
    assert (b["pct"], b["q"], b["status"]) == (35, "ok", "ok")
    assert [h["pct"] for h in b["history"]] == [20, 35]
    assert b["forecast"]["method"] == "recent rate"
    assert b["forecast"]["threshold_at"] > t + 1800


def test_impossible_readings_are_refused_and_nothing_stored(client, db):
    admin = admin_headers(db)
    dev = bin_device(client, db)
    add_bin(client, admin, "B1", device=dev)
    r = dev.events([fill(1, 50), fill(2, 130)])
    assert r.status_code == 400 and "pct" in r.json()["error"]["message"]
    r = dev.request("POST", "/api/v1/device/events",
                    b'{"stream": 1, "events": [{"seq": 1, "t": 1800000000, "type": "fill", '
                    b'"data": {"q": "ok", "pct": 50, "temp_c": NaN}}]}')
    assert r.status_code == 400
    assert count(db, "bin_fills") == 0


def test_fire_is_an_urgent_alarm_for_the_waste_team(client, db):
    admin = admin_headers(db)
    dev = bin_device(client, db)
    add_bin(client, admin, "B1", device=dev)
    r = dev.events([event(1, "fire", temp_c=78.5, why="threshold")])
    assert r.status_code == 200
    alarms = client.get("/api/v1/alarms", headers=bearer(db, "caregiver")).json()
    fire = [a for a in alarms if a["kind"] == "fire"]
    assert len(fire) == 1 and fire[0]["device_id"] == dev.id and fire[0]["state"] == "received"
    assert fire[0]["category"] == "hazard" and fire[0]["groups"] == ["waste"]
    assert client.get("/api/v1/bins/B1", headers=admin).json()["status"] == "burning"
    dev.events([event(1, "fire", temp_c=78.5, why="threshold")])           # the device's retry
    assert len([a for a in client.get("/api/v1/alarms", headers=admin).json() if a["kind"] == "fire"]) == 1


def test_tilted_and_sensor_fault_are_maintenance_until_fixed(client, db):
    admin = admin_headers(db)
    dev = bin_device(client, db)
    add_bin(client, admin, "B1", device=dev)
    dev.events([event(1, "tilted", deg=88, on=True), event(2, "sensor_fault", kind="stuck", detail="431 mm for 48 h")])
    kinds = {m["kind"] for m in client.get("/api/v1/bins/maintenance", headers=admin).json()}
    assert kinds == {"tilted", "sensor_fault"}
    assert client.get("/api/v1/bins/B1", headers=admin).json()["status"] == "dropped"
    dev.events([event(3, "tilted", deg=2, on=False), fill(4, 40)])
    assert client.get("/api/v1/bins/maintenance", headers=admin).json() == []


def test_a_silent_bin_is_not_reporting(client, db):
    admin = admin_headers(db)
    from fleetkit import enroll
    dev = enroll(client, db, role="smart_bin")                              # enrolled, never heard from
    add_bin(client, admin, "B1", device=dev)
    m = client.get("/api/v1/bins/maintenance", headers=admin).json()
    assert [(x["bin_id"], x["kind"]) for x in m] == [("B1", "not_reporting")]


def test_a_board_that_reported_before_its_bin_was_registered_shows_at_once(client, db):
    # A technician installs and enrolls the board first; the bin is registered later. Its fill
    # must show then, not when the board next reports a change (hours with fill_report_h).
    admin = admin_headers(db)
    dev = bin_device(client, db)
    t = int(time.time()) - 600
    assert dev.events([fill(1, 20, t - 600), fill(2, 7, t, mm=930, temp_c=18.5)]).json()["ack"] == 2
    add_bin(client, admin, "B1", device=dev)
    b = client.get("/api/v1/bins/B1", headers=admin).json()
    assert (b["pct"], b["q"], b["temp_c"], b["fill_t"]) == (7, "ok", 18.5, t)
    assert [h["pct"] for h in b["history"]] == [7]
    dev.events([fill(3, 9)])                                                # then as usual
    assert client.get("/api/v1/bins/B1", headers=admin).json()["pct"] == 9


def test_a_board_moved_to_a_bin_brings_only_a_newer_fill(client, db):
    admin = admin_headers(db)
    old, new = bin_device(client, db), bin_device(client, db)
    add_bin(client, admin, "B1", device=old)
    t = int(time.time()) - 600
    new.events([fill(1, 55, t)])
    old.events([fill(1, 30, t + 60)])
    body = client.get("/api/v1/bins/B1", headers=admin).json()
    body = {k: body[k] for k in ("id", "lat", "lon", "capacity_l", "waste_type", "depth_mm", "area")}
    assert client.put("/api/v1/bins/B1", json=dict(body, device_id=new.id), headers=admin).status_code == 200
    assert client.get("/api/v1/bins/B1", headers=admin).json()["pct"] == 30     # the new board's is older
    new.events([fill(2, 57, t + 120)])
    r = client.post("/api/v1/bins/import", content="id,capacity_l,waste_type,depth_mm,device_id\nB2,240,glass,900,%s\n"
                    % old.id, headers=dict(admin, **{"Content-Type": "text/csv"}))
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/bins/B2", headers=admin).json()["pct"] == 30     # imported with a board: its fill
    assert client.get("/api/v1/bins/B1", headers=admin).json()["pct"] == 57
