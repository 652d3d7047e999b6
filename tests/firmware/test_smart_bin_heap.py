"""The smart bin role's heap (docs/firmware.md "Heap", docs/smart-bins.md).

Like test_call_button_heap.py: a first boot, a quiet sample wake and a reporting sample
wake, every module compiled by mpy-cross, in the firmware heap target (FW_TARGET_HEAP,
96 KB on the 64-bit unix port today) plus what the harness, the scenario script and the
FAKE hardware modules take (measured by harness_heap). FW_BIN_EXTRA_HEAP (bytes) adds an
allowance for experiments; the target is none."""

import os

from test_micropython_units import fake_fleet, mpy_trees, run_heap_scenario  # noqa: F401 (fixtures)

BIN_EXTRA_HEAP = int(os.getenv("FW_BIN_EXTRA_HEAP") or 0)


def test_smart_bin_heap_budget(tmp_path, fake_fleet, mpy_trees):  # noqa: F811
    run_heap_scenario(tmp_path, fake_fleet, mpy_trees, "scenario_heap_bin",
                      ("test_first_boot_fits", "test_quiet_sample_wake_fits",
                       "test_reporting_sample_wake_fits"), extra_heap=BIN_EXTRA_HEAP)
