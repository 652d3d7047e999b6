"""Collection plans: which bins, the route per truck (PyVRP), what is left out and why, the
solver's time-out, the crew's marks, the bin's own `emptied` confirming, uncollected bins
carried to the next plan, CSV and GPX, FIWARE WasteContainer export."""

import time
import xml.etree.ElementTree as ET

import pytest

from binkit import add_bin, admin_headers, bin_device, event, fill
from fleet.waste import ngsi, routing


def full_bin(client, db, admin, bin_id, pct=90, **fields):
    dev = bin_device(client, db)
    add_bin(client, admin, bin_id, device=dev, **fields)
    assert dev.events([fill(1, pct)]).status_code == 200
    return dev


def test_full_bins_are_planned_in_route_order_and_exported(client, db):
    admin = admin_headers(db)
    for i, (lat, lon) in enumerate([(31.235, 121.475), (31.240, 121.480), (31.232, 121.471)]):
        full_bin(client, db, admin, "F%d" % i, lat=lat, lon=lon)
    dev = bin_device(client, db)
    add_bin(client, admin, "LOW", device=dev)
    dev.events([fill(1, 10)])
    plan = client.post("/api/v1/waste/plans", json={"trucks": 1}, headers=admin).json()
    assert plan["status"] in ("ok", "time_limit")
    ids = [s["bin_id"] for s in plan["stops"]]
    assert sorted(ids) == ["F0", "F1", "F2"] and [s["seq"] for s in plan["stops"]] == [1, 2, 3]
    assert plan["summary"]["why"]["F0"]["code"] == "at_threshold"
    assert plan["summary"]["why"]["F0"]["reason"] == "at 90 % (threshold 80 %)"
    assert plan["summary"]["km"][0] > 0
    etas = [s["eta"] for s in plan["stops"]]
    assert etas == sorted(etas) and etas[0] >= plan["shift_start"]
    csv_text = client.get("/api/v1/waste/plans/%d/route.csv" % plan["id"], headers=admin).text
    assert [line.split(",")[2] for line in csv_text.splitlines()[1:]] == ids
    gpx = ET.fromstring(client.get("/api/v1/waste/plans/%d/route.gpx?truck=1" % plan["id"], headers=admin).content)
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    assert [p.find("g:name", ns).text for p in gpx.findall("g:rte/g:rtept", ns)] == ids


def test_bin_without_location_is_left_out_with_the_reason(client, db):
    admin = admin_headers(db)
    full_bin(client, db, admin, "NOLOC", lat=None, lon=None)
    plan = client.post("/api/v1/waste/plans", json={}, headers=admin).json()
    assert plan["stops"] == []
    assert plan["summary"]["left"] == [{"id": "NOLOC", "code": "no_location", "params": {},
                                        "reason": "no location: add lat/lon to route it"}]


def test_more_bins_than_trucks_can_take_says_what_is_left_and_why(client, db, settings):
    admin = admin_headers(db)
    for i in range(6):                                   # 6 x 1100 L x 90 % > one 2000 L truck
        full_bin(client, db, admin, "C%d" % i, lat=31.23 + i * 0.001, lon=121.47, capacity_l=1100)
    plan = client.post("/api/v1/waste/plans", json={"trucks": 1}, headers=admin).json()
    assert len(plan["stops"]) == 2
    assert len(plan["summary"]["left"]) == 4
    assert all(x["code"] == "trucks_full" and x["params"]["trucks"] == 1 and x["params"]["capacity"] == 2000
               for x in plan["summary"]["left"])


def test_bins_beyond_the_working_time_and_larger_than_a_truck():
    stops = [{"id": "FAR", "lat": 32.5, "lon": 121.47, "litres": 100},
             {"id": "HUGE", "lat": 31.231, "lon": 121.47, "litres": 5000},
             {"id": "NEAR", "lat": 31.232, "lon": 121.47, "litres": 100}]
    res = routing.solve(stops, (31.23, 121.47), 1, 2000, 8 * 3600, time_limit_s=0.5)
    reasons = {x["id"]: x["reason"] for x in res["left"]}
    assert reasons["FAR"].startswith("too far for the working time")
    assert reasons["HUGE"] == "larger than a truck: 5000 L > 2000 L"
    assert [s["id"] for s in res["routes"][0]] == ["NEAR"]


def test_solver_time_out_returns_the_best_plan_so_far_marked_as_such():
    stops = [{"id": "S%d" % i, "lat": 31.2 + (i * 37 % 100) / 1000, "lon": 121.4 + (i * 61 % 100) / 1000,
              "litres": 50} for i in range(300)]
    started = time.monotonic()
    res = routing.solve(stops, (31.25, 121.45), 3, 6000, 8 * 3600, time_limit_s=0.3)
    assert time.monotonic() - started < 5
    assert res["status"] == "time_limit"
    assert sum(len(r) for r in res["routes"]) + len(res["left"]) == 300


def test_crew_marks_emptied_confirms_and_missed_bins_stay_on_the_next_plan(client, db):
    admin = admin_headers(db)
    crew = __import__("fleetkit").bearer(db, "technician")
    d1 = full_bin(client, db, admin, "E1", lat=31.231, lon=121.471)
    full_bin(client, db, admin, "E2", lat=31.232, lon=121.472)
    plan = client.post("/api/v1/waste/plans", json={"trucks": 1}, headers=admin).json()
    stop = {s["bin_id"]: s["id"] for s in plan["stops"]}
    assert client.post("/api/v1/waste/stops/%d" % stop["E1"], json={"state": "collected"}, headers=crew).json()["state"] \
        == "collected"
    assert client.post("/api/v1/waste/stops/%d" % stop["E2"], json={"state": "no_access"}, headers=crew).status_code == 200
    assert client.post("/api/v1/waste/stops/%d" % stop["E2"], json={"state": "lost"}, headers=crew).status_code == 422
    d1.events([event(2, "emptied", **{"from": 90, "to": 3})])          # the bin confirms the crew
    states = {s["bin_id"]: s["state"] for s in client.get("/api/v1/waste/plans/latest", headers=crew).json()["stops"]}
    assert states == {"E1": "confirmed", "E2": "no_access"}
    nxt = client.post("/api/v1/waste/plans", json={"trucks": 1, "shift_start": plan["shift_start"] + 86400},
                      headers=admin).json()
    assert [s["bin_id"] for s in nxt["stops"]] == ["E2"]
    assert nxt["summary"]["why"]["E2"]["code"] == "carried"


def test_every_bin_is_a_valid_fiware_waste_container(client, db):
    admin = admin_headers(db)
    full_bin(client, db, admin, "W1", pct=42)
    add_bin(client, admin, "W2")
    entities = client.get("/api/v1/bins/ngsi-ld", headers=admin).json()
    assert [e["id"] for e in entities] == ["urn:ngsi-ld:WasteContainer:W1", "urn:ngsi-ld:WasteContainer:W2"]
    for e in entities:
        assert ngsi.validate(e) == [], e
    w1 = entities[0]
    assert w1["fillingLevel"]["value"] == 0.42 and w1["location"]["value"]["coordinates"] == [121.472, 31.231]
    assert w1["status"]["value"] == "ok" and "@context" in w1
    assert ngsi.validate({"id": "x", "type": "WasteContainer", "fillingLevel": {"type": "Property", "value": 1.5},
                          "status": {"type": "Property", "value": "ok"}}) == \
        ["missing location", "id must be a URN", "fillingLevel must be within 0..1"]
