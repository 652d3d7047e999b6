"""Heap figures of the firmware's heap scenarios (tests/firmware/heapgate.py), per bundle.

For each scenario (the runtime with the generic role, the call button, the smart bin, the facility
beacon as a manhole cover and as a streetlight; over HTTPS with the
fleet's certificate verified, against the FakeFleet) and each bundle ("mpy": .mpy files as on
the board's LittleFS; "romfs": one ROMFS image mounted with vfs.VfsRom, as the ESP32 port
mounts a romfs partition), on the 64-bit unix port (or the build FW_MICROPYTHON names: on a
32-bit single-precision one the target is the chip's 56 KB; docs/firmware.md "Tests on a 32-bit
build"):

- the smallest firmware heap (KB, 2 KB steps, scanning down from 2 KB over the gate's budget)
  with which every test of the scenario passes, --runs times in a row;
- what the firmware holds at the end of each test (after a collection; the name pools a board
  makes for it included), what is left free at the gate's budget, the interned names (all, and
  the firmware's own: all minus the harness's and its placeholders);
- in a traced run (live heap sampled every --trace-ms, with a collection each time) the
  firmware's peak.

The harness's heap (and a ROMFS image's bytes: flash on a board) is measured and added on top of
the firmware's heap, as the gates do. Ends with one JSON line of the figures.
Usage: python benchmarks/heap.py [--bundles mpy,romfs] [--scenarios runtime,cb,bin,cover,lamp] [--runs 2] [--from KB]
"""

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "firmware"))

import heapgate  # noqa: E402

ROLES_ROMFS = heapgate.ROMFS_GATE_KB  # the roles' ROMFS gate on the 64-bit port (heapgate.py says why)
# scenario, its tests, the FakeFleet's auto-acknowledgement (ms), its gates' budgets (KB:
# ROMFS, .mpy; the tests hold them to these), whether the fleet sends down.beacon
SCENARIOS = {
    "runtime": ("scenario_heap", ("test_runtime_scenario_fits_in_72k_heap", "test_second_wake_fits_too"),
                None, (72, 88), False),
    "cb": ("scenario_heap_cb", ("test_first_boot_fits", "test_press_wake_fits"), 1500, (ROLES_ROMFS, 102),
           False),
    "bin": ("scenario_heap_bin", ("test_first_boot_fits", "test_quiet_sample_wake_fits",
                                  "test_reporting_sample_wake_fits"), None, (ROLES_ROMFS, 100), False),
    "cover": ("scenario_heap_beacon", ("test_cover_first_boot_fits", "test_cover_tilt_wake_fits"), None,
              (ROLES_ROMFS, 102), True),
    "lamp": ("scenario_heap_beacon", ("test_streetlight_fault_fits",), None, (ROLES_ROMFS, 102), True),
}


def run(fleet, key, bundle, heap_k, trace_ms=0):
    """The scenario's figures, or None if a test failed at this heap."""
    scenario, names, ack_ms, _, beacon = SCENARIOS[key]
    fleet.auto_ack_ms = ack_ms
    fleet.beacon = heapgate.beacon_settings() if beacon else None
    tmp = Path(tempfile.mkdtemp(prefix="hb"))
    trees = Path(tempfile.mkdtemp(prefix="fw"))
    try:
        with contextlib.redirect_stdout(io.StringIO()):      # the consoles: only on failure
            return heapgate.run_scenario(tmp, fleet, (trees / "a", trees / "h"), scenario, names,
                                         bundle=bundle, heap=heap_k * 1024, trace_ms=trace_ms)
    except AssertionError as ex:
        # why (the first error on the console), for the record: a scan's failure is a finding
        why = [ln.strip() for ln in str(ex).splitlines() if "Error" in ln][:1]
        print("  %s %s at %d KB fails: %s" % (key, bundle, heap_k, why[0][:160] if why else "?"),
              file=sys.stderr, flush=True)
        return None
    finally:
        fleet.auto_ack_ms = fleet.beacon = None
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(trees, ignore_errors=True)


def smallest(fleet, key, bundle, start_k, runs):
    """Smallest heap (KB, 2 KB steps down from start_k) that passes `runs` times in a row."""
    best = None
    k = start_k
    while k > 0:
        if all(run(fleet, key, bundle, k) is not None for _ in range(runs)):
            best = k
            k -= 2
        else:
            break
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundles", default="mpy,romfs")
    ap.add_argument("--scenarios", default="runtime,cb,bin,cover,lamp")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--from", dest="start", type=int, default=0,
                    help="KB to scan down from (default: 2 KB over the gate's budget)")
    ap.add_argument("--trace-ms", type=int, default=5)
    a = ap.parse_args()
    fleet = heapgate.start_tls_fleet(tempfile.mkdtemp(prefix="pki"))
    out = {}
    try:
        for key in a.scenarios.split(","):
            for bundle in a.bundles.split(","):
                # the gate's budget; on a 32-bit build the chip's own 56 KB for both bundles
                gate = heapgate.budget(SCENARIOS[key][3][bundle != "romfs"])
                start = a.start or gate // 1024 + 2
                r = {"gate_k": gate // 1024, "smallest_heap_k": smallest(fleet, key, bundle, start, a.runs)}
                at_gate = run(fleet, key, bundle, gate // 1024)
                traced = run(fleet, key, bundle, 200, trace_ms=a.trace_ms)
                for i, f in enumerate(traced or []):
                    # what the firmware holds at the end (after a collection) is the same in any
                    # heap; what is left free is the gate's
                    r[f["what"]] = {"fw_held_end": f["held"], "names": f["names"], "fw_names": f["fw_names"],
                                    "free_end_at_gate": at_gate[i]["free"] if at_gate else None,
                                    "fw_peak_traced": f["peak"]}
                r["passes_at_gate"] = at_gate is not None
                out["%s/%s" % (key, bundle)] = r
                print("%-8s %-6s smallest %s KB, at %d KB: %s" % (
                    key, bundle, r["smallest_heap_k"], gate // 1024,
                    "; ".join("%s: held %.1f KB, free %s, names %d (fw %d), peak %.1f KB" % (
                        w, v["fw_held_end"] / 1024,
                        "%.1f KB" % (v["free_end_at_gate"] / 1024) if v["free_end_at_gate"] is not None else "-",
                        v["names"], v["fw_names"], v["fw_peak_traced"] / 1024)
                        for w, v in r.items() if isinstance(v, dict)) or "fails"), flush=True)
    finally:
        fleet.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
