"""Facility beacons end to end with the real firmware (roles/beacon.py) and the real fleet: a
manhole cover tilted in the virtual world raises cover_open, the fleet opens a work order, a
technician resolves it and the public page says "working"; a streetlight dark at night raises
lamp_fault and clears it when lit again."""

import re
import ssl

import httpx
import pytest

from hil_tests.fleet_process import fleet_cli
from hil_tests.plugin import enrolled
from hil_tests.polling import wait_until


def technician(fleet, name="hil-tech", team="covers", route=("manhole_cover", "*")):
    """A technician in a team routed the given assets, with an API token: their headers."""
    fleet_cli(fleet.db, "user", "add", name, "--role", "technician")
    token = fleet_cli(fleet.db, "token", "create", "--user", name, "--name", "hil").strip().splitlines()[-1].strip()
    fleet_cli(fleet.db, "team", "set", team, "--member", name)
    fleet_cli(fleet.db, "team", "route", route[0], route[1], team)
    return {"Authorization": "Bearer " + token}


def http(fleet):
    return httpx.Client(base_url=fleet.url, timeout=10,
                        verify=ssl.create_default_context(cafile=str(fleet.pki.ca_path)) if fleet.pki else True)


@pytest.mark.needs("button", "world", "sleep")
def test_a_tilted_manhole_cover_is_repaired_and_the_page_says_working(make_board, fleet):
    tech = technician(fleet)
    board = make_board("cover", role="beacon", power="battery", beacon="manhole_cover")
    dev = enrolled(board, fleet)
    board.expect(r"beacon: installed angle recorded", timeout=30, since=0)
    asset = fleet.api("POST", "/api/v1/assets", json={"type": "manhole_cover", "name": "RW-77", "area": "north",
                                                     "device_id": dev["id"]})
    board.wait_state("sleeping", timeout=60)

    board.set_world(tilt_deg=30)                  # someone lifts the cover...
    board.press(50)                               # ...and the accelerometer's interrupt wakes the board
    board.expect(r"beacon: cover_open tilt=(\d+)", timeout=30)
    orders = wait_until(lambda: fleet.api("GET", "/api/v1/workorders", params={"asset": asset["code"]}),
                        "a work order for the cover", 30)
    [order] = orders
    assert (order["category"], order["source"], order["team"]) == ("cover_open", "device", "covers")
    with http(fleet) as client:
        page = client.get("/a/" + asset["code"], headers={"Accept-Language": "en"}).text
        assert re.search(r"Fault reported, being handled since", page)

        board.wait_state("sleeping", timeout=60)  # the interrupt line is released: it sleeps again
        board.set_world(tilt_deg=0)               # put back
        board.press(50)
        board.expect(r"beacon: cover_closed", timeout=30)
        # The board slept again after the first wake; this one sends cover_closed once it is online.
        wait_until(lambda: fleet.api("GET", "/api/v1/assets/%d" % asset["id"])["fault"] is None,
                   "the fleet to hear the cover is closed", 30)
        for action, body in (("start", {}), ("resolve", {"note": "Cover re-seated, frame checked"}),
                             ("close", {})):
            r = client.post("/api/v1/workorders/%d/actions" % order["id"], json=dict(body, action=action),
                            headers=tech)
            assert r.status_code == 200, r.text
        page = client.get("/a/" + asset["code"], headers={"Accept-Language": "en"}).text
        assert re.search(r'id="status">\s*Working \(repaired on', page), page
    history = [h["action"] for h in fleet.api("GET", "/api/v1/workorders/%d" % order["id"])["history"]]
    assert history[:2] == ["opened", "assigned"] and "sensor_restored" in history and history[-1] == "close"


@pytest.mark.long
@pytest.mark.needs("world")
def test_a_streetlight_dark_when_it_should_be_lit_raises_and_clears_lamp_fault(make_board, fleet):
    import time
    board = make_board("lamp", role="beacon", power="mains", beacon="streetlight")
    dev = enrolled(board, fleet)
    # Its schedule says lit now (from an hour ago to an hour from now, local time UTC+8), and a
    # fault must last 10 s: the test need not wait for the night.
    minute = (int(time.time()) // 60 + 480) % 1440
    asset = fleet.api("POST", "/api/v1/assets", json={
        "type": "streetlight", "name": "XL-0412", "area": "north", "device_id": dev["id"], "lat": 30.6, "lon": 114.3,
        "beacon": {"lamp_debounce_s": 10, "lamp_on_min": (minute - 60) % 1440, "lamp_off_min": (minute + 60) % 1440}})
    board.expect(r"beacon: settings .*lamp_debounce_s=10", timeout=40)
    board.set_world(light=0.02)                   # the lamp is dark
    board.expect(r"beacon: lamp_fault light=0\.0\d should_on=1", timeout=60)
    [order] = wait_until(lambda: fleet.api("GET", "/api/v1/workorders", params={"asset": asset["code"]}),
                         "a work order for the lamp", 20)
    assert (order["category"], order["source"]) == ("light_out", "device")
    assert fleet.api("GET", "/api/v1/assets/%d" % asset["id"])["fault"] == "lamp_fault"
    board.set_world(light=0.9)                    # lit again
    board.expect(r"beacon: lamp_ok", timeout=60)
    wait_until(lambda: fleet.api("GET", "/api/v1/assets/%d" % asset["id"])["fault"] is None, "the fault cleared", 20)
    # What a scanner nearby would receive: the Eddystone-UID frame carrying the asset's id, not
    # connectable, at the default interval (no URL: this fleet has no FLEET_PUBLIC_URL).
    import devproto.eddystone as eddystone
    uid = eddystone.advert(eddystone.uid_frame(eddystone.instance_of(asset["id"]))).hex()
    sent = [a for a in board.adverts() if a["adv"] == uid]
    assert sent and sent[-1]["interval_us"] == 1000000 and not sent[-1]["connectable"]
