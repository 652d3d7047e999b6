"""Heap of a call button's whole app update, boot by boot (docs/ota.md "Heap").

The scenario is tests/firmware/mp/scenario_heap_cb_ota.py (the gate is
tests/firmware/test_call_button_heap.py::test_call_button_ota_update_heap_budget): the offer
wake, the update boot that fetches the signed envelope, the update boot that verifies it first
and installs, the new version's health-gate boot. For each boot and bundle this finds the
smallest firmware heap (KB, 2 KB steps down from --from) with which that boot passes --runs
times in a row, the boots before it run in a roomy heap (--roomy) on the same files, as the
gates run them (heapgate.run_scenario: the harness's heap and a ROMFS image's bytes added on
top). The console of the first failing step is written to --out (one file per boot and bundle).
Ends with one JSON line of the figures.
Usage: python benchmarks/heap_ota.py [--bundles romfs,mpy] [--boots offer,envelope,update,gate]
"""

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "firmware"))

import heapgate  # noqa: E402

SCENARIO = "scenario_heap_cb_ota"
BOOTS = {"offer": "test_offer_wake_fits", "envelope": "test_envelope_boot_fits",
         "update": "test_update_boot_fits", "gate": "test_gate_boot_fits"}
ORDER = list(BOOTS)
GATES = {"romfs": heapgate.ROMFS_GATE_KB, "mpy": 104}        # the update's gates (test_call_button_heap.py)


def attempt(fleet, case, bundle, boot, heap_k, roomy_k):
    """(passed, figures or the failure's text): the boots before `boot` in roomy_k, then `boot`
    in heap_k, on one board's files."""
    i = ORDER.index(boot)
    tmp = Path(tempfile.mkdtemp(prefix="ho"))
    trees = Path(tempfile.mkdtemp(prefix="fw"))
    env = {"OTA_CASE": case}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            if i:
                heapgate.run_scenario(tmp, fleet, (trees / "a", trees / "h"), SCENARIO,
                                      [BOOTS[b] for b in ORDER[:i]], bundle=bundle,
                                      heap=roomy_k * 1024, env=env)
            figs = heapgate.run_scenario(tmp, fleet, (trees / "a", trees / "h"), SCENARIO,
                                         [BOOTS[boot]], bundle=bundle, heap=heap_k * 1024, env=env)
        return True, figs
    except AssertionError as ex:
        return False, str(ex)
    except subprocess.TimeoutExpired as ex:     # a boot that never ended counts as failing
        return False, "no end within %s s" % ex.timeout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(trees, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundles", default="romfs,mpy")
    ap.add_argument("--boots", default=",".join(ORDER))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--from", dest="start", type=int, default=0,
                    help="KB to scan down from (default: 4 KB over the bundle's gate)")
    ap.add_argument("--roomy", type=int, default=0, help="KB for the boots before (default: gate + 24)")
    ap.add_argument("--out", default=tempfile.gettempdir())
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="hoa"))
    fleet = heapgate.start_tls_fleet(d / "pki")
    out = {}
    try:
        case, fleet.offer = heapgate.serve_ota_release(fleet, d)
        for bundle in a.bundles.split(","):
            for boot in a.boots.split(","):
                k = a.start or GATES[bundle] + 4
                roomy = a.roomy or GATES[bundle] + 24
                best, failed = None, None
                while k > 0:
                    res = [attempt(fleet, case, bundle, boot, k, roomy) for _ in range(a.runs)]
                    bad = [r for ok, r in res if not ok]
                    if bad:
                        failed = k
                        p = Path(a.out) / ("heap_ota_%s_%s_%d.txt" % (bundle, boot, k))
                        p.write_text(bad[0])
                        break
                    best = k
                    k -= 2
                out["%s/%s" % (bundle, boot)] = {"smallest_k": best, "fails_k": failed}
                print("%-6s %-9s smallest %s KB (fails at %s KB)" % (bundle, boot, best, failed), flush=True)
    finally:
        fleet.stop()
        shutil.rmtree(d, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
