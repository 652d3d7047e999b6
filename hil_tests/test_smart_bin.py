"""The smart bin end to end: the real smart_bin role on a virtual board whose world is a bin
(boards/virtual/binworld.py) and the real fleet. It fills and reports, is emptied, catches fire,
is knocked over - and the fleet sees each as a crew or the waste team would."""

import json
import time

import pytest

from boards import board_path

from hil_tests.plugin import enrolled
from hil_tests.polling import wait_until

BIN = dict(role="smart_bin", power="battery")


def bin_state(fleet, bin_id):
    return fleet.api("GET", "/api/v1/bins/%s" % bin_id)


def fill_above(fleet, bin_id, pct):
    """The bin's fill in the fleet once it is above `pct`, else None."""
    got = bin_state(fleet, bin_id)["pct"]
    return got if got is not None and got > pct else None


def events_of(fleet, device_id, etype):
    return [e for e in fleet.events(device_id) if e["type"] == etype]


def next_sample(board):
    """Skip the rest of the board's deep sleep: it wakes for its next sample now."""
    board.wait_state("sleeping", timeout=60)
    board.fast_forward()


@pytest.mark.long
@pytest.mark.needs("world", "sleep")
def test_a_bin_fills_is_emptied_catches_fire_and_is_knocked_over(make_board, fleet):
    board = make_board("bin", start=False, **BIN)
    board.set_world(bin_fill_pct=20.0, bin_depth_cm=100.0, bin_offset_cm=0.0, temp_c=18.0)
    board.start()
    dev = enrolled(board, fleet)
    fleet.api("POST", "/api/v1/bins", json={"id": "HIL-1", "lat": 31.2304, "lon": 121.4737, "capacity_l": 240,
                                            "waste_type": "residual", "depth_mm": 1000, "device_id": dev["id"]})

    # It fills: the next sample reports the new level, measured through the ultrasonic echo.
    board.set_world(bin_fill_pct=55.0)
    next_sample(board)
    got = wait_until(lambda: fill_above(fleet, "HIL-1", 40), "the new fill in the fleet", 60)
    assert 52 <= got <= 58 and bin_state(fleet, "HIL-1")["q"] == "ok"

    # The crew empties it: the drop is an `emptied` event, the bin's state follows.
    board.set_world(bin_fill_pct=2.0)
    next_sample(board)
    emptied = wait_until(lambda: events_of(fleet, dev["id"], "emptied"), "an emptied event", 60)
    assert 52 <= emptied[0]["data"]["from"] <= 58 and emptied[0]["data"]["to"] <= 5
    assert bin_state(fleet, "HIL-1")["emptied_t"] is not None

    # It catches fire: an urgent hazard alarm for the waste team, the bin shown burning.
    board.set_world(temp_c=85.0)
    next_sample(board)
    fire = wait_until(lambda: [a for a in fleet.api("GET", "/api/v1/alarms", params={"device_id": dev["id"]})
                               if a["kind"] == "fire"], "a fire alarm", 60)
    assert fire[0]["category"] == "hazard" and fire[0]["state"] == "received" and fire[0]["groups"] == ["waste"]
    assert bin_state(fleet, "HIL-1")["status"] == "burning"
    board.set_world(temp_c=18.0)

    # It is knocked over while it sleeps: the accelerometer's interrupt wakes it (no timer, no
    # fast-forward), it stays awake the 30 s it takes to be sure, then says `tilted`.
    board.wait_state("sleeping", timeout=120)
    before = len(board.boots())
    knocked = time.time()
    board.set_world(tilt_deg=90.0)
    wait_until(lambda: len(board.boots()) > before, "a wake on the motion interrupt", 10)
    assert board.wake_reason == "EXT1_WAKE" and board.boots()[-1]["wake_pins"] == [36]
    tilted = wait_until(lambda: events_of(fleet, dev["id"], "tilted"), "a tilted event", 90)
    assert tilted[0]["data"]["on"] is True and tilted[0]["data"]["deg"] >= 80
    assert time.time() - knocked >= 30
    open_work = fleet.api("GET", "/api/v1/bins/maintenance")
    assert [m["kind"] for m in open_work if m["bin_id"] == "HIL-1"] == ["tilted"]
    assert bin_state(fleet, "HIL-1")["status"] == "dropped"


@pytest.mark.needs("world", "sleep")
def test_a_time_of_flight_bin_measures_and_a_black_bag_is_a_sensor_fault(make_board, fleet, tmp_path):
    # the virtual board with a VL53L1X on its I2C pins instead of the ultrasonic
    definition = json.loads(board_path("virtual").read_text())
    definition.update(name="virtual-tof", tof="vl53l1x", ultrasonic=None)
    definition["pins"].update(us_trig=None, us_echo=None)
    path = tmp_path / "virtual-tof.json"
    path.write_text(json.dumps(definition))
    board = make_board("tofbin", start=False, board=str(path), **BIN)
    board.set_world(bin_fill_pct=30.0, bin_depth_cm=100.0, temp_c=18.0)
    board.start()
    dev = enrolled(board, fleet)
    fleet.api("POST", "/api/v1/bins", json={"id": "HIL-TOF", "lat": 31.2304, "lon": 121.4737, "capacity_l": 240,
                                            "waste_type": "residual", "depth_mm": 1000, "device_id": dev["id"]})
    board.set_world(bin_fill_pct=70.0)
    next_sample(board)
    got = wait_until(lambda: fill_above(fleet, "HIL-TOF", 50), "the new fill in the fleet", 60)
    assert 67 <= got <= 73 and bin_state(fleet, "HIL-TOF")["q"] == "ok"
    # a black bag absorbs the light: no valid range; after 4 such samples the board says so
    board.set_world(bin_fill_pct=None, distance_cm=None)
    for _ in range(4):
        next_sample(board)
    faults = wait_until(lambda: events_of(fleet, dev["id"], "sensor_fault"), "a sensor fault", 60)
    assert faults[0]["data"]["kind"] == "no_echo"
    assert [m["kind"] for m in fleet.api("GET", "/api/v1/bins/maintenance") if m["bin_id"] == "HIL-TOF"] == \
        ["sensor_fault"]
