"""The facility beacon role's heap (docs/firmware.md "Heap", docs/performance.md "Heap scenarios").

Like test_call_button_heap.py, every module compiled by mpy-cross, over HTTPS with the fleet's
certificate verified, in the heap a board has plus what the harness, the scenario script and the
FAKE hardware modules take (heapgate.py): a manhole cover's first boot and its wake by the
accelerometer's interrupt, tilted, with BLE advertising on (cover_open acked, the motion
interrupt armed again, sleep); a streetlight dark while its schedule says lit (lamp_fault acked;
the scenario ends before the board holds a long-poll). The FakeFleet sends what an asset would
(down.beacon): a public URL and id to advertise, every 10 s, a schedule that says lit now, the
shortest debounce. The scenario fails on any error recorded during a wake, not only on one that
ends it.

The target is 72 KB; the ROMFS bundle is held to 80 KB (the smallest that passes: 78; at 76 the
streetlight's link runs out of heap sending lamp_fault), the .mpy bundle to 108 KB (104; at 102
the cover's enrollment fails). FW_BEACON_EXTRA_HEAP (bytes) adds an allowance for experiments;
the target is none."""

import os
import time

import pytest

from heapgate import budget, run_scenario

BEACON_EXTRA_HEAP = int(os.getenv("FW_BEACON_EXTRA_HEAP") or 0)
BUNDLES = [("romfs", budget(80)), ("mpy", budget(108))]


@pytest.fixture
def beacon_fleet(tls_fleet):
    local_minute = (int(time.time()) // 60 + 480) % 1440          # the district's UTC+8
    tls_fleet.beacon = {"url": "https://xl.gov/a/K7QM4XPA", "uid": 4242, "adv_ms": 10000,
                        "lamp_on_min": (local_minute - 120) % 1440, "lamp_off_min": (local_minute + 120) % 1440,
                        "utc_offset_min": 480, "lamp_debounce_s": 10, "dark_pct": 20}
    yield tls_fleet
    tls_fleet.beacon = None


@pytest.mark.parametrize("bundle,heap", BUNDLES)
def test_manhole_cover_heap_budget(tmp_path, beacon_fleet, heap_trees, bundle, heap):
    before = set(beacon_fleet.devices)
    figs = run_scenario(tmp_path, beacon_fleet, heap_trees, "scenario_heap_beacon",
                        ("test_cover_first_boot_fits", "test_cover_tilt_wake_fits"), bundle=bundle, heap=heap,
                        extra_heap=BEACON_EXTRA_HEAP)
    assert [f["what"] for f in figs] == ["cover first boot", "cover tilt wake"]
    (dev,) = [beacon_fleet.devices[d] for d in set(beacon_fleet.devices) - before]
    assert [e["type"] for _, e in dev.events] == ["heartbeat", "cover_open"]
    assert dev.events[1][1]["data"]["tilt_deg"] == pytest.approx(30, abs=0.5)


@pytest.mark.parametrize("bundle,heap", BUNDLES)
def test_streetlight_heap_budget(tmp_path, beacon_fleet, heap_trees, bundle, heap):
    before = set(beacon_fleet.devices)
    figs = run_scenario(tmp_path, beacon_fleet, heap_trees, "scenario_heap_beacon",
                        ("test_streetlight_fault_fits",), bundle=bundle, heap=heap, extra_heap=BEACON_EXTRA_HEAP)
    assert [f["what"] for f in figs] == ["streetlight fault"]
    (dev,) = [beacon_fleet.devices[d] for d in set(beacon_fleet.devices) - before]
    assert "lamp_fault" in [e["type"] for _, e in dev.events]
