"""The smart bin role's heap (docs/firmware.md "Heap", docs/smart-bins.md).

Like test_call_button_heap.py: a first boot, a quiet sample wake and a reporting sample wake,
every module compiled by mpy-cross, over HTTPS with the fleet's certificate verified, plus what
the harness, the scenario script and the FAKE hardware modules take (heapgate.py). The target
is 72 KB: the app as a ROMFS image passes in it (8 runs of 8, 70 KB 2 of 3; docs/smart-bins.md
"Heap") and is held to the roles' 74 KB (heapgate.ROMFS_GATE_KB), as .mpy files to
100 KB (the smallest that passes: 96; docs/performance.md "Heap scenarios"). FW_BIN_EXTRA_HEAP
(bytes) adds an allowance for experiments."""

import os

import pytest

from heapgate import ROMFS_GATE_KB, budget, run_scenario

BIN_EXTRA_HEAP = int(os.getenv("FW_BIN_EXTRA_HEAP") or 0)


@pytest.mark.parametrize("bundle,kb", [("romfs", (ROMFS_GATE_KB,)), ("mpy", (100, 68))], ids=["romfs", "mpy"])
def test_smart_bin_heap_budget(tmp_path, tls_fleet, heap_trees, bundle, kb):
    figs = run_scenario(tmp_path, tls_fleet, heap_trees, "scenario_heap_bin",
                        ("test_first_boot_fits", "test_quiet_sample_wake_fits",
                         "test_reporting_sample_wake_fits"), bundle=bundle, heap=budget(*kb),
                        extra_heap=BIN_EXTRA_HEAP)
    assert [f["what"] for f in figs] == ["first boot", "quiet sample", "fill report"]
