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

The target is 72 KB: the ROMFS bundle passes in it (with the runtime's collection after every
KB, docs/firmware.md "Heap"; it also needed the streetlight to drop suntimes and its light driver
between looks and the runtime to stop asking the role about sleep -- a beacon builds its BLE
frames then -- in the middle of a request) and is held to the roles' 74 KB
(heapgate.ROMFS_GATE_KB); the .mpy bundle to 102 KB (the smallest that passes: 98; docs/performance.md "Heap scenarios"). FW_BEACON_EXTRA_HEAP (bytes) adds
an allowance for experiments; the target is none."""

import os

import pytest

from heapgate import ROMFS_GATE_KB, beacon_settings, budget, run_scenario

BEACON_EXTRA_HEAP = int(os.getenv("FW_BEACON_EXTRA_HEAP") or 0)
# (64-bit KB, 32-bit KB: none is the chip's 56; heapgate.budget)
BUNDLES = pytest.mark.parametrize("bundle,kb", [("romfs", (ROMFS_GATE_KB,)), ("mpy", (102, 68))], ids=["romfs", "mpy"])


@pytest.fixture
def beacon_fleet(tls_fleet):
    tls_fleet.beacon = beacon_settings()
    yield tls_fleet
    tls_fleet.beacon = None


@BUNDLES
def test_manhole_cover_heap_budget(tmp_path, beacon_fleet, heap_trees, bundle, kb):
    before = set(beacon_fleet.devices)
    figs = run_scenario(tmp_path, beacon_fleet, heap_trees, "scenario_heap_beacon",
                        ("test_cover_first_boot_fits", "test_cover_tilt_wake_fits"), bundle=bundle, heap=budget(*kb),
                        extra_heap=BEACON_EXTRA_HEAP)
    assert [f["what"] for f in figs] == ["cover first boot", "cover tilt wake"]
    (dev,) = [beacon_fleet.devices[d] for d in set(beacon_fleet.devices) - before]
    assert [e["type"] for _, e in dev.events] == ["heartbeat", "cover_open"]
    assert dev.events[1][1]["data"]["tilt_deg"] == pytest.approx(30, abs=0.5)


@BUNDLES
def test_streetlight_heap_budget(tmp_path, beacon_fleet, heap_trees, bundle, kb):
    before = set(beacon_fleet.devices)
    figs = run_scenario(tmp_path, beacon_fleet, heap_trees, "scenario_heap_beacon",
                        ("test_streetlight_fault_fits",), bundle=bundle, heap=budget(*kb), extra_heap=BEACON_EXTRA_HEAP)
    assert [f["what"] for f in figs] == ["streetlight fault"]
    (dev,) = [beacon_fleet.devices[d] for d in set(beacon_fleet.devices) - before]
    assert "lamp_fault" in [e["type"] for _, e in dev.events]
