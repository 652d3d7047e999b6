"""Provisioning benchmark: blank virtual boards -> flashed, Wi-Fi set, enrolled, first hello, label.

Each board is a blank virtual ESP32 (erased flash) on its RFC 2217 serial port; the firmware is
the stand-in MicroPython image (boards/espimage.py) at the size of a real ESP32_GENERIC app
(--app-kb, default 1536; its filler deflates like real code, ~50 %). The provisioning tool runs as
a technician runs it (provisioning.flow.provision_board: esptool's Python API, a real fleet on
loopback, the device's Wi-Fi from its config), then a label (SVG + PDF) is made.

Reports, per baud rate (460800 and 115200), alone and N boards in parallel (--parallel, default 4):
seconds per board, boards per hour, bytes on the wire (both directions, counted by each board's
serial port) and the time of each stage (connect, erase, write, verify, start, hello, label).
The serial line is paced at the baud rate and the flash chip takes a W25Q32's typical erase and
program times (docs/virtual-board.md), so the figures mean something; what they cannot show is
a USB hub's latency and real radio association times.

Ends with one JSON line of the figures. Usage: python benchmarks/provision.py [--parallel 4] [--app-kb 1536]
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from boards import espimage  # noqa: E402
from boards.virtual import BoardFarm  # noqa: E402
from hil_tests.fleet_process import FleetProcess, fleet_cli  # noqa: E402
from provisioning import label as labels  # noqa: E402
from provisioning.fleetapi import Fleet  # noqa: E402
from provisioning.flow import FlashJob, provision_board  # noqa: E402

FAST_WIFI = {"wifi_fast_ms": 300, "wifi_scan_ms": 1500}


def one(farm, fleet, token, fw, name, baud, out):
    b = farm.create(name, blank=True, replace=True)
    b.set_world(**FAST_WIFI)
    b.start()
    before = b.info()["serial"]
    job = FlashJob(port=b.serial_url, firmware=str(fw), board="virtual", role="call_button", fleet_url=fleet.url,
                   wifi_ssid="site-ap", wifi_password="bench-pass", site="bench", baud=baud)
    with Fleet(fleet.url, token) as f:
        res = provision_board(job, f, hello_timeout=180)
    t = time.monotonic()
    if res.ok:
        lab = labels.device_label(fleet.url, res.device_id, "call_button", "bench", res.mac)
        d = Path(tempfile.mkdtemp())
        labels.write_svgs([lab], d)
        labels.pdf_sheet([lab], d / "labels.pdf")
    res.stages["label"] = round(time.monotonic() - t, 3)
    after = b.info()["serial"]
    b.power_cut()
    out.append({"ok": res.ok, "error": res.error, "stages": res.stages,
                "seconds": res.stages["total"] + res.stages.get("hello", 0) + res.stages["label"],
                "wire_in": after["bytes_in"] - before["bytes_in"], "wire_out": after["bytes_out"] - before["bytes_out"]})


def run(farm, fleet, token, fw, baud, n):
    out = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(farm, fleet, token, fw, "bench-%d-%d" % (baud, i), baud, out))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    ok = [r for r in out if r["ok"]]
    stages = {}
    for r in ok:
        for k, v in r["stages"].items():
            stages.setdefault(k, []).append(v)
    return {"baud": baud, "boards": n, "ok": len(ok), "errors": [r["error"] for r in out if not r["ok"]],
            "wall_s": round(wall, 1), "per_board_s": round(statistics.mean(r["seconds"] for r in ok), 1) if ok else None,
            "boards_per_hour": round(len(ok) * 3600 / wall, 1) if ok else 0,
            "wire_bytes_per_board": round(statistics.mean(r["wire_in"] + r["wire_out"] for r in ok)) if ok else None,
            "stages_s": {k: round(statistics.mean(v), 2) for k, v in stages.items()}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--app-kb", type=int, default=1536)
    ap.add_argument("--bauds", default="460800,115200")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fw = tmp / "ESP32_GENERIC-fake-v1.29.0.bin"
        fw.write_bytes(espimage.fake_micropython_firmware(app_size=args.app_kb * 1024))
        fp = FleetProcess(tmp / "fleet")
        fp.bootstrap()
        fleet_cli(fp.db, "user", "add", "tech", "--role", "technician")
        token = fleet_cli(fp.db, "token", "create", "--user", "tech", "--name", "bench").strip().splitlines()[-1]
        fp.start()
        results = []
        try:
            with BoardFarm(tmp / "vboards") as farm:
                for baud in [int(x) for x in args.bauds.split(",")]:
                    for n in (1, args.parallel):
                        r = run(farm, fp, token, fw, baud, n)
                        results.append(r)
                        print("%6d baud, %d board(s): %s s/board, %s boards/h, %s bytes on the wire/board, stages %s%s"
                              % (baud, n, r["per_board_s"], r["boards_per_hour"], r["wire_bytes_per_board"],
                                 r["stages_s"], (" ERRORS %s" % r["errors"]) if r["errors"] else ""), flush=True)
        finally:
            fp.stop()
        print(json.dumps({"firmware_bytes": fw.stat().st_size, "runs": results}))


if __name__ == "__main__":
    main()
