"""How soon after power returns a call button watches its button, on a virtual board.

    python benchmarks/boot_press.py            # --boots 20 [--busy 6]

A press that begins and ends before the firmware watches the pin is seen by nothing
(docs/call-button.md "Limits"). This powers a call button on `--boots` times and measures, on
the host's clock, the time from power-on to the moment the running firmware has its IRQ handler
on the button pin (the virtual board's `info()["button_watched"]`). It includes the host's start
of the MicroPython process, not an ESP32's ROM and bootloader (~0.3-0.5 s on a chip, not
simulated). `--busy N` runs N busy-looping processes beside it (a loaded CI host). The board
needs no fleet: it points at a closed port, and the role starts before the link is tried.
Ends with one JSON line of the figures.
"""

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from boards import build_fs, compile_app  # noqa: E402
from boards.virtual import BoardFarm  # noqa: E402


def _spin():
    while True:
        pass


def watched_after_power_on(board, timeout=30.0):
    t0 = time.monotonic()
    board.start()
    while not board.info()["button_watched"]:
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("the button was not watched %.0f s after power-on" % timeout)
        time.sleep(0.002)
    return time.monotonic() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boots", type=int, default=21)
    ap.add_argument("--busy", type=int, default=0, help="busy-looping processes beside it")
    args = ap.parse_args(argv)
    cfg = {"role": "call_button", "power": "battery", "fleet_url": "http://127.0.0.1:9",
           "enroll_token": "et_boot_press_bench", "wifi": {"ssid": "bench", "password": "bench-pass"}}
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    times = []
    with tempfile.TemporaryDirectory() as work:
        farm = BoardFarm(Path(work) / "vboards")
        try:
            b = farm.create("boot-press", files=compile_app(build_fs("virtual", cfg)))
            for _ in range(args.boots):
                times.append(watched_after_power_on(b))
                b.power_cut()
                time.sleep(0.2)
        finally:
            for p in spinners:
                p.terminate()
            farm.close()
    first, times = times[0], sorted(times[1:])       # the first: the host sets the board up
    fig = {"boots": len(times), "busy": args.busy, "p50_ms": round(statistics.median(times) * 1000),
           "max_ms": round(times[-1] * 1000), "min_ms": round(times[0] * 1000),
           "first_boot_ms": round(first * 1000)}
    print("power-on -> button watched, %d boots after the first, %d busy processes: min %d ms, median %d ms, "
          "max %d ms (first boot %d ms)" % (fig["boots"], args.busy, fig["min_ms"], fig["p50_ms"],
                                            fig["max_ms"], fig["first_boot_ms"]))
    print(json.dumps(fig))
    return fig


if __name__ == "__main__":
    main()
