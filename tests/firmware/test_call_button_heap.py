"""The call button role's heap (docs/firmware.md "Heap", docs/call-button.md "Heap").

A first boot, then a wake by a press: alarm -> acked -> received -> answered -> sleep, every
module compiled by mpy-cross, over HTTPS with the fleet's certificate verified, in the heap a
board has plus what the harness, the scenario script and the FAKE hardware modules take
(heapgate.py). The caregiver's acknowledgement comes from the FakeFleet (auto_ack_ms) 1.5 s
after the alarm is stored: by then the board holds a long-poll open (it waits for the answer),
and the answer comes back on it.

Two bundles: the app in a ROMFS image (bytecode run from flash) and the app as .mpy files on the
filesystem (what the stock ESP32_GENERIC image can run: it has no ROMFS). The target is 72 KB
(an ESP32's 56 KB heap as the 64-bit unix port needs it): the ROMFS bundle passes in it (the
runtime collects after every KB allocated: docs/firmware.md "Heap") and is held to 74 KB, as every
role's (heapgate.ROMFS_GATE_KB: on a busy host the heap's holes move), the .mpy bundle to 102 KB (the smallest that passes: 98). FW_CB_EXTRA_HEAP (bytes) adds an allowance
for experiments; the target is none.

A whole app-bundle update (scenario_heap_cb_ota.py: the offer wake, two update boots, the health
gate's boot) is held to the same gates below (docs/ota.md)."""

import os

import pytest

from heapgate import ROMFS_GATE_KB, budget, run_scenario, serve_ota_release

CB_EXTRA_HEAP = int(os.getenv("FW_CB_EXTRA_HEAP") or 0)


@pytest.mark.parametrize("bundle,kb", [("romfs", (ROMFS_GATE_KB,)), ("mpy", (102, 70))], ids=["romfs", "mpy"])
def test_call_button_heap_budget(tmp_path, tls_fleet, heap_trees, bundle, kb):
    tls_fleet.auto_ack_ms = 1500      # a caregiver answers 1.5 s after the alarm is stored
    before = set(tls_fleet.devices)
    try:
        figs = run_scenario(tmp_path, tls_fleet, heap_trees, "scenario_heap_cb",
                            ("test_first_boot_fits", "test_press_wake_fits"), bundle=bundle, heap=budget(*kb),
                            extra_heap=CB_EXTRA_HEAP)
    finally:
        tls_fleet.auto_ack_ms = None
    assert [f["what"] for f in figs] == ["first boot", "press wake"]
    (dev,) = [tls_fleet.devices[d] for d in set(tls_fleet.devices) - before]
    # the answer came back on a long-poll the board held open, within the heap
    assert any(ms >= 1000 and news for ms, news in dev.polls), dev.polls
    assert [e["type"] for _, e in dev.events].count("alarm") == 1


@pytest.fixture(scope="module")
def tls_release(tls_fleet, tmp_path_factory):
    """A signed app release served by the HTTPS FakeFleet, and its offer (heapgate.serve_ota_release)."""
    return serve_ota_release(tls_fleet, tmp_path_factory.mktemp("otaheap"))


@pytest.mark.parametrize("bundle,kb", [("romfs", (ROMFS_GATE_KB,)), ("mpy", (104, 74))], ids=["romfs", "mpy"])
def test_call_button_ota_update_heap_budget(tmp_path, tls_fleet, heap_trees, tls_release, bundle, kb):
    """A whole app-bundle update (docs/ota.md "On the board": the offer wake, the update boot that
    fetches the envelope, the update boot that verifies it first and installs, the new version's
    health gate) on a call button, over HTTPS: as ROMFS in the roles' gate, 74 KB (each boot's smallest is 72, the target:
    benchmarks/heap_ota.py), as .mpy in 104 KB (the smallest: 98-100)."""
    case, offer = tls_release
    tls_fleet.offer = offer
    try:
        figs = run_scenario(tmp_path, tls_fleet, heap_trees, "scenario_heap_cb_ota",
                            ("test_offer_wake_fits", "test_envelope_boot_fits", "test_update_boot_fits",
                             "test_gate_boot_fits"),
                            bundle=bundle, heap=budget(*kb), extra_heap=CB_EXTRA_HEAP, env={"OTA_CASE": case})
    finally:
        tls_fleet.offer = None
    assert [f["what"] for f in figs] == ["offer wake", "envelope boot", "update boot", "gate boot"]
