"""The call button role's heap (docs/firmware.md "Heap", docs/call-button.md "Heap").

Like test_micropython_units.py::test_runtime_scenario_fits_96k_heap, for the call button:
a first boot, then a wake by a press (alarm -> acked -> received -> answered -> sleep),
with every module compiled by mpy-cross, in 96 KB of heap plus what the harness, the
scenario script and the FAKE hardware modules take (measured by harness_heap). The
caregiver's acknowledgement comes from the FakeFleet (auto_ack_ms), so the harness makes
no request of its own during the wake. FW_CB_EXTRA_HEAP (bytes) adds an allowance for
experiments; the target is none."""

import os

from test_micropython_units import fake_fleet, mpy_trees, run_heap_scenario  # noqa: F401 (fixtures)

CB_EXTRA_HEAP = int(os.getenv("FW_CB_EXTRA_HEAP") or 0)


def test_call_button_heap_budget(tmp_path, fake_fleet, mpy_trees):  # noqa: F811
    fake_fleet.auto_ack_ms = 300              # a caregiver answers 0.3 s after the alarm is stored
    try:
        run_heap_scenario(tmp_path, fake_fleet, mpy_trees, "scenario_heap_cb",
                          ("test_first_boot_fits", "test_press_wake_fits"), extra_heap=CB_EXTRA_HEAP)
    finally:
        fake_fleet.auto_ack_ms = None
