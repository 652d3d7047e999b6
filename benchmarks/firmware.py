"""Firmware runtime benchmark on the virtual board: boot -> hello -> events acked -> sleep.

Runs the real firmware (compiled to .mpy, as a board runs it) on the MicroPython unix port
against a real fleet manager on loopback, and reports:

- the smallest heap the scenario passes with (scanning the firmware's heap down from 96 KB in 4 KB
  steps; the shims' own share is measured and added on top, see docs/virtual-board.md "Heap"),
  and whether 96 KB passes in --runs runs. A pass: events acked, then deep sleep, and no
  MemoryError anywhere on the console (a shim that had to wait for heap says so there too);
- how much of the heap the firmware uses at peak: its live heap (gc.collect() + gc.mem_alloc(),
  minus the shims' share) sampled every millisecond on the board's main thread in a traced run
  (boot with enrollment + 3 timer wakes), and its live heap when it goes to deep sleep;
- time from power-on (first boot, with enrollment) and from a timer wake to the first event acked;
- awake time per timer wake;
- bytes on the wire per wake and per event (both directions, through the board's proxy);
- flash wear, counted by the board's flash chip under its LittleFS: sector erases and bytes
  programmed per timer wake (everything the firmware writes) and per outbox event alone.

Ends with one JSON line of the figures. Usage: python benchmarks/firmware.py [--wakes 10]
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from boards import build_fs, compile_app  # noqa: E402
from boards.virtual import BoardFarm, ExpectTimeout  # noqa: E402
from hil_tests.fleet_process import FleetProcess  # noqa: E402

# The runtime alone: the generic role (heartbeat + telemetry), battery powered, so it sleeps.
ROLE = {"role": "smart_bin", "role_module": "generic", "power": "battery"}
SLEPT = r"supervisor: sleep (\d+) ms"
EVENT = r"supervisor: event \w+ seq=\d+"


def image(fleet, token):
    cfg = dict(ROLE, fleet_url=fleet.url, enroll_token=token, wifi={"ssid": "bench", "password": "bench-pass"})
    return compile_app(build_fs("virtual", cfg))


def passes(farm, fleet, heap_k, timeout=40):
    """Does boot -> enroll -> hello -> events acked -> sleep complete with this heap?"""
    name = "heap-%d" % heap_k
    b = farm.create(name, files=image(fleet, fleet.enrollment_token()), heapsize="%dk" % heap_k, replace=True)
    b.start()
    try:
        b.expect(r"events acked", timeout=timeout)       # "fleet not reached" also ends in a sleep
        b.expect(SLEPT, timeout=timeout)
        ok = "MemoryError" not in b.console_text(0)   # includes errors the firmware survived
    except ExpectTimeout:
        ok = False
    if not ok:
        FAILED.append((heap_k, b.console_text(0)[-1500:]))
    b.power_cut()
    b.destroy()
    return ok


FAILED = []   # (heap KB, console tail) of the runs that did not pass


def min_heap(farm, fleet, start=96, step=4, floor=40):
    """Scan down from `start` KB until a run fails; the last heap that passed (None if start fails).
    A pass means no MemoryError anywhere on the console, including the shims' own allocations."""
    best = None
    k = start
    while k >= floor and passes(farm, fleet, k):
        best = k
        k -= step
    return best


def traced_peak(farm, fleet, heap_k, wakes=3):
    """The firmware's heap figures from a traced run (sampled every 1 ms; the extra collections
    change when the GC runs, so this run measures and never decides a pass)."""
    b = farm.create("heap-trace", files=image(fleet, fleet.enrollment_token()), heapsize="%dk" % heap_k,
                    heap_trace=1, replace=True)
    b.start()
    try:
        b.expect(r"events acked", timeout=60)
        for _ in range(wakes):
            b.wait_state("sleeping", timeout=60)
            b.fast_forward()
            b.expect(r"events acked", timeout=30)
        b.wait_state("sleeping", timeout=60)
        return b.info()["heap"]
    finally:
        b.power_cut()
        b.destroy()


def measure_wakes(b, wakes):
    rows = []
    for _ in range(wakes):
        b.wait_state("sleeping", timeout=60)
        net0, fl0, mark = b.net_stats(), b.info()["flash"], b.mark()
        t0 = time.monotonic()
        b.fast_forward()
        b.expect(r"events acked", timeout=30)
        t_ack = time.monotonic() - t0
        b.expect(SLEPT, timeout=30)
        t_awake = time.monotonic() - t0
        b.wait_state("sleeping", timeout=30)
        net1, fl1 = b.net_stats(), b.info()["flash"]
        events = len(re.findall(EVENT, b.console_text(mark)))
        rows.append({"ack_s": t_ack, "awake_s": t_awake, "events": events,
                     "wire": (net1["bytes_up"] - net0["bytes_up"]) + (net1["bytes_down"] - net0["bytes_down"]),
                     "up": net1["bytes_up"] - net0["bytes_up"],
                     "erases": fl1["erases"] - fl0["erases"], "programmed": fl1["programmed"] - fl0["programmed"]})
    return rows


def outbox_wear(farm, fleet, heap, events=60):
    """Flash wear of the outbox alone on a running board: `events` events appended and acked
    (bursts of 10, the link's usual batch), the board's real LittleFS and flash chip counting."""
    b = farm.create("wear", files=image(fleet, fleet.enrollment_token()), heapsize=heap + "k", replace=True)
    b.start()
    try:
        b.expect(r"events acked", timeout=60)
        b.wait_state("sleeping", timeout=60)
    finally:
        b.power_cut()
    # the same flash, now with a probe instead of the application: the outbox on its own
    files = {"/main.py": (b"import sys, outbox\nsys.path.insert(0, '/app_a')\n"
                          b"ob = outbox.Outbox()\nprint('WEAR-START')\n"
                          b"for k in range(%d):\n    for i in range(10):\n"
                          b"        s = ob.append('telemetry', {'fill': 0.42, 'temp_c': 21.5})\n"
                          b"    ob.ack_to(s)\nprint('WEAR-END')\n" % (events // 10))}
    b.deploy(files)
    b.start()
    try:
        b.expect("WEAR-START", timeout=30)
        f0 = b.info()["flash"]
        b.expect("WEAR-END", timeout=60)
        f1 = b.info()["flash"]
    finally:
        b.power_cut()
        b.destroy()
    n = (events // 10) * 10
    return (f1["erases"] - f0["erases"]) / n, (f1["programmed"] - f0["programmed"]) / n


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wakes", type=int, default=10, help="timer wakes to measure")
    ap.add_argument("--heap", default="96", help="heap (KB) for the timed runs")
    ap.add_argument("--runs", type=int, default=3, help="runs at 96 KB that must pass")
    ap.add_argument("--skip-heap", action="store_true", help="skip the heap scans (timing, wire and flash only)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fleet = FleetProcess(Path(tmp) / "fleet")
        fleet.bootstrap()
        fleet.start()
        farm = BoardFarm(Path(tmp) / "vboards")
        try:
            if args.skip_heap:
                heap_min, runs96, traced = None, [], None
            else:
                heap_min = min_heap(farm, fleet)
                runs96 = [passes(farm, fleet, 96) for _ in range(args.runs)]
                traced = traced_peak(farm, fleet, int(args.heap))
            ob_erases, ob_programmed = outbox_wear(farm, fleet, args.heap)
            b = farm.create("bench", files=image(fleet, fleet.enrollment_token()), heapsize=args.heap + "k")
            t0 = time.monotonic()
            b.start()
            try:
                b.expect(r"events acked", timeout=60)
            except ExpectTimeout:
                print(b.console_text(0)[-3000:])
                raise
            first_ack = time.monotonic() - t0
            b.expect(SLEPT, timeout=30)
            rows = measure_wakes(b, args.wakes)
            heap = b.info()["heap"]
        finally:
            farm.close()
            fleet.stop()
    events = sum(r["events"] for r in rows)
    traced = traced or {"budget": heap["budget"], "fw_peak": None, "shim_memerrors": 0, "trace_samples": 0}
    budget = traced["budget"]
    fig = {
        "heap_budget_bytes": budget,
        "fw_peak_bytes": traced["fw_peak"],
        "fw_peak_pct": round(100.0 * traced["fw_peak"] / budget, 1) if traced["fw_peak"] and budget else None,
        "fw_at_sleep_bytes": heap["fw_end"],
        "shim_memerrors": heap["shim_memerrors"] + traced["shim_memerrors"],
        "heap_min_kb": heap_min,
        "passes_96k": "%d/%d" % (sum(runs96), len(runs96)),
        "first_boot_to_ack_s": round(first_ack, 3),
        "wake_to_ack_s_p50": round(median([r["ack_s"] for r in rows]), 3),
        "awake_per_wake_s_p50": round(median([r["awake_s"] for r in rows]), 3),
        "events_per_wake": round(events / len(rows), 2),
        "wire_bytes_per_wake": round(sum(r["wire"] for r in rows) / len(rows)),
        "wire_bytes_per_event": round(sum(r["wire"] for r in rows) / max(events, 1)),
        "uplink_bytes_per_event": round(sum(r["up"] for r in rows) / max(events, 1)),
        "flash_erases_per_wake": round(sum(r["erases"] for r in rows) / len(rows), 2),
        "flash_programmed_per_wake": round(sum(r["programmed"] for r in rows) / len(rows)),
        "outbox_erases_per_event": round(ob_erases, 3),
        "outbox_programmed_per_event": round(ob_programmed),
        "wakes": len(rows),
    }
    for k, tail in FAILED:
        print("--- a run at %d KB that did not pass (console tail):\n%s\n---" % (k, tail))
    print("smallest heap that passes : %s KB (96 KB passes %s runs)" % (fig["heap_min_kb"], fig["passes_96k"]))
    kb = 1024.0
    print("firmware heap, peak       : %.1f KB live of its %.0f KB (%.0f %%; gc-sampled every 1 ms over %d samples, "
          "boot + 3 wakes)" % ((traced["fw_peak"] or 0) / kb, budget / kb, fig["fw_peak_pct"] or 0,
                               traced["trace_samples"]))
    print("firmware heap, at sleep   : %.1f KB live when it goes to deep sleep; shims waited for heap %d times"
          % ((heap["fw_end"] or 0) / kb, fig["shim_memerrors"]))
    print("power-on -> first ack     : %.2f s (includes Wi-Fi scan and enrollment)" % first_ack)
    print("timer wake -> first ack   : %.2f s p50; awake %.2f s per wake" % (fig["wake_to_ack_s_p50"],
                                                                            fig["awake_per_wake_s_p50"]))
    print("wire                      : %d B per wake, %d B per event (%.1f events per wake)" % (
        fig["wire_bytes_per_wake"], fig["wire_bytes_per_event"], fig["events_per_wake"]))
    print("flash, whole wake         : %.2f sector erases, %d B programmed per timer wake (boot state, outbox, "
          "acks; %.1f events)" % (fig["flash_erases_per_wake"], fig["flash_programmed_per_wake"],
                                   fig["events_per_wake"]))
    print("flash, outbox alone       : %.3f sector erases, %d B programmed per event (LittleFS on the board's "
          "flash chip; bursts of 10, one ack each)" % (fig["outbox_erases_per_event"],
                                                      fig["outbox_programmed_per_event"]))
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
