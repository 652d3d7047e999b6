"""The facility beacon role's heap (docs/firmware.md "Heap", docs/facilities.md "Heap").

Like test_call_button_heap.py, every module compiled by mpy-cross, in the firmware heap target
(FW_TARGET_HEAP) plus what the harness, the scenario script and the FAKE hardware modules take:
a manhole cover's first boot and its wake by the accelerometer's interrupt, tilted, with BLE
advertising on (cover_open acked, sleep); a streetlight that is dark while its schedule says lit
(lamp_fault acked). The FakeFleet sends the settings an asset would (down.beacon): a public URL
and id to advertise, advertising every 10 s, a schedule that says lit now, the shortest debounce.
FW_BEACON_EXTRA_HEAP (bytes) adds an allowance for experiments; the target is none."""

import os
import time

import pytest

from test_micropython_units import fake_fleet, mpy_trees, run_heap_scenario  # noqa: F401 (fixtures)

BEACON_EXTRA_HEAP = int(os.getenv("FW_BEACON_EXTRA_HEAP") or 0)


@pytest.fixture
def beacon_settings(fake_fleet):  # noqa: F811
    local_minute = (int(time.time()) // 60 + 480) % 1440          # the district's UTC+8
    fake_fleet.beacon = {"url": "https://xl.gov/a/K7QM4XPA", "uid": 4242, "adv_ms": 10000,
                         "lamp_on_min": (local_minute - 120) % 1440, "lamp_off_min": (local_minute + 120) % 1440,
                         "utc_offset_min": 480, "lamp_debounce_s": 10, "dark_pct": 20}
    yield fake_fleet
    fake_fleet.beacon = None


def test_manhole_cover_heap_budget(tmp_path, beacon_settings, mpy_trees):  # noqa: F811
    run_heap_scenario(tmp_path, beacon_settings, mpy_trees, "scenario_heap_beacon",
                      ("test_cover_first_boot_fits", "test_cover_tilt_wake_fits"), extra_heap=BEACON_EXTRA_HEAP)


def test_streetlight_heap_budget(tmp_path, beacon_settings, mpy_trees):  # noqa: F811
    run_heap_scenario(tmp_path, beacon_settings, mpy_trees, "scenario_heap_beacon",
                      ("test_streetlight_fault_fits",), extra_heap=BEACON_EXTRA_HEAP)
