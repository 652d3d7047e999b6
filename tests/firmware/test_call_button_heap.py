"""The call button role's heap (docs/firmware.md "Heap", docs/call-button.md "Heap").

Like test_micropython_units.py::test_runtime_scenario_fits_96k_heap, for the call button:
a first boot, then a wake by a press (alarm -> acked -> received -> answered -> sleep),
with every module compiled by mpy-cross, in 96 KB of heap plus what the harness, the
scenario script and the FAKE hardware modules take (measured by harness_heap). The
caregiver's acknowledgement comes from the FakeFleet (auto_ack_ms), so the harness makes
no request of its own during the wake. FW_CB_EXTRA_HEAP (bytes) adds an allowance for
experiments; the target is none."""

import os

import pytest

from test_micropython_units import (APP, FAKEHW, MICROPYTHON, MP, MPY_CROSS, TARGET_HEAP,  # noqa: F401
                                    _compile_tree, fake_fleet, harness_heap, mpy_trees, run_mp)

CB_EXTRA_HEAP = int(os.getenv("FW_CB_EXTRA_HEAP") or 0)


@pytest.mark.skipif(MICROPYTHON is None or MPY_CROSS is None, reason="micropython or mpy-cross missing")
def test_call_button_heap_budget(tmp_path, fake_fleet, mpy_trees):  # noqa: F811
    app, harness = mpy_trees
    _compile_tree(APP, app)
    _compile_tree(MP, harness, [MP / "mptest.py", MP / "scenario_heap_cb.py"])
    _compile_tree(FAKEHW, harness)
    path = os.pathsep.join([str(app), str(harness), ".frozen"])
    harness_bytes = harness_heap(tmp_path, fake_fleet.url, path, "scenario_heap_cb")
    limit = TARGET_HEAP + CB_EXTRA_HEAP + harness_bytes
    runner = tmp_path / "run_scenario.py"
    runner.write_text("import scenario_heap_cb\n")
    fake_fleet.auto_ack_ms = 300              # a caregiver answers 0.3 s after the alarm is stored
    try:
        for name in ("test_first_boot_fits", "test_press_wake_fits"):
            p = run_mp(runner, name, tmp_path, fake_fleet.url, heap="%d" % limit,
                       extra_env={"MICROPYPATH": path, "HEAP_LIMIT": str(limit)})
            out = "harness %d bytes, heap %d\n%s\n%s" % (harness_bytes, limit, p.stdout[-6000:],
                                                         p.stderr[-3000:])
            assert p.returncode == 0 and ("PASS %s" % name) in p.stdout, out
            print(out)
    finally:
        fake_fleet.auto_ack_ms = None
