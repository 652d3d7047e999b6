"""OTA benchmark: updates on a virtual board against a real fleet, and the fleet serving many
downloads while ingest runs.

    python benchmarks/ota.py [--heap 72] [--downloads 1000] [--duration 10] [--skip-fleet] [--skip-board]

On the board (the real firmware, compiled to .mpy, a call button on mains, `fleet serve` on
loopback over plain HTTP, through the virtual board's proxy):

- an app bundle update: seconds from the rollout's start to `installed` (download, verify,
  install) and to `confirmed` (the reboot and the health gate), bytes on the wire, sector erases
  and bytes programmed on the flash chip;
- the same with the firmware's heap capped at --heap KB (the shims' share on top, as in
  benchmarks/firmware.py): does the whole update pass, with no MemoryError anywhere? And the
  firmware's peak live heap during the boot that downloads, verifies and installs (sampled every
  2 ms, heap_trace), against the same board's boot without an update;
- a full firmware image (a 1.4 MB stand-in, boards/espimage.py) into the next OTA partition of a
  `virtual-ota` board: time and bytes;
- resume overhead: the power cut once mid-download (just before a flash operation of the
  download), then back: the bytes fetched again and the seconds added (the reboot included),
  against the same update without a cut.

On the fleet (`fleet serve` pinned to CPU 0): ingest with wrk (signed single-event requests,
CPU 1) alone, then while --downloads connections (an asyncio client, CPU 1) each fetch the app
bundle with a random Range and read it at a device's pace (36 KB/s, an ESP32 on HTTPS). Ingest
runs paced at 60 % of what the fleet takes flat out (measured first): a busy fleet, not a
saturated one. Figures: ingest events/s and p99 with and without downloads, download bytes/s
served (FLEET_OTA_DOWNLOAD_BYTES_PER_S caps it), 503s. Two cores only: the download client shares
CPU 1 with wrk.

Ends with one JSON line of the figures.
"""

import argparse
import asyncio
import json
import random
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _common as bench  # noqa: E402
from boards import build_fs, compile_app  # noqa: E402
from boards.virtual import BoardFarm  # noqa: E402
from hil_tests.fleet_process import FleetProcess  # noqa: E402
from hil_tests.otahil import ReleaseKit, start_rollout, trust, upload, wait_rollout  # noqa: E402

ROLE = {"role": "call_button", "power": "mains"}


def board_files(fleet, kit, board="virtual"):
    cfg = dict(ROLE, fleet_url=fleet.url, enroll_token=fleet.enrollment_token(),
               wifi={"ssid": "bench", "password": "bench-pass"})
    files = compile_app(build_fs(board, cfg))
    files.update(kit.key_files())
    return files


def seconds(text, pattern):
    m = re.search(r"I (\d+\.\d+) \w+: " + pattern, text)
    return float(m.group(1)) if m else None


def update_once(farm, fleet, kit, release_id, name, heap=None, trace=False, cut_at=None, board="virtual",
                label="installed"):
    """One board through one update; its figures."""
    b = farm.create(name, board=board, files=board_files(fleet, kit, board), heapsize=heap and "%dk" % heap,
                    heap_trace=2 if trace else None, replace=True)
    b.start()
    try:
        b.expect(r"hello ok", timeout=40)
        b.wait_for(lambda board: board.state == "running", timeout=10)
        time.sleep(0.5)
        net0, fl0, mark = b.net_stats(), b.info()["flash"], b.mark()
        boot_peak = b.info()["heap"].get("fw_peak_boot")
        t0 = time.monotonic()
        r = start_rollout(fleet, release_id, phases=[{"name": "all", "devices": [fleet.device_by_hw(b.hw_id)["id"]]}])
        if cut_at:
            b.power_cut(after_flash_ops=cut_at)             # armed: the power goes mid-download
            b.wait_state("off", timeout=60)
            b.start()                                       # back: the board resumes from flash
        b.expect(r"ota: \S+ %s" % label, timeout=180)
        t_installed = time.monotonic() - t0
        update_peak = b.info()["heap"].get("fw_peak_boot")
        net1, fl1 = b.net_stats(), b.info()["flash"]
        b.expect(r"ota: \S+ confirmed", timeout=120)
        t_confirmed = time.monotonic() - t0
        done = wait_rollout(fleet, r["id"], ("completed", "paused"), 60)
        text = b.console_text(mark)
        return {"ok": done["state"] == "completed" and "MemoryError" not in b.console_text(0),
                "installed_s": round(t_installed, 2), "confirmed_s": round(t_confirmed, 2),
                "bytes_down": net1["bytes_down"] - net0["bytes_down"], "bytes_up": net1["bytes_up"] - net0["bytes_up"],
                "erases": fl1["erases"] - fl0["erases"], "programmed": fl1["programmed"] - fl0["programmed"],
                "fw_peak_before": boot_peak, "fw_peak_update": update_peak,
                "board_download_s": (seconds(text, r"\S+ installed") or 0) - (seconds(text, "event ota seq") or 0)}
    finally:
        try:
            b.power_cut()
        except Exception:
            pass
        b.destroy()


def board_figures(args, work):
    fleet = FleetProcess(Path(work) / "fleet", env={"FLEET_OTA_TICK_S": "0.5"})
    fleet.bootstrap()
    fleet.start()
    kit = ReleaseKit(Path(work) / "release")
    out = {}
    try:
        trust(fleet, kit)
        versions = iter("0.%d.0" % i for i in range(2, 50))
        with BoardFarm(Path(work) / "vboards") as farm:
            def app_release():
                return upload(fleet, kit.build(next(versions)))["id"]
            print("app bundle update...", flush=True)
            out["app"] = update_once(farm, fleet, kit, app_release(), "app")
            out["app"]["bundle_bytes"] = (kit.build("0.2.0") / "artifact.bin").stat().st_size
            out["app_heap"] = []
            for heap in args.heap:
                print("app bundle update with the firmware heap at %d KB (traced)..." % heap, flush=True)
                try:
                    h = update_once(farm, fleet, kit, app_release(), "heap%d" % heap, heap=heap, trace=True)
                except Exception as ex:             # the firmware did not get that far in this heap
                    h = {"ok": False, "error": str(ex)[:300], "fw_peak_update": None, "fw_peak_before": None}
                h["heap_kb"] = heap
                out["app_heap"].append(h)
            print("resume after a power cut mid-download...", flush=True)
            out["resume"] = update_once(farm, fleet, kit, app_release(), "resume", cut_at=300)
            print("full firmware image (1.4 MB) into ota_1...", flush=True)
            rel = upload(fleet, kit.build_image("1.30.0", ["virtual-ota"], size=1400 * 1024))
            out["image"] = update_once(farm, fleet, kit, rel["id"], "image", board="virtual-ota")
            out["image"]["image_bytes"] = 1400 * 1024
    finally:
        fleet.stop()
    a, r = out["app"], out["resume"]
    out["resume"]["extra_bytes"] = r["bytes_down"] - a["bytes_down"]
    out["resume"]["extra_s"] = round(r["installed_s"] - a["installed_s"], 2)
    return out


# ---- the fleet: downloads while ingest runs ---------------------------------------------------

async def slow_downloads(url, paths, connections, duration, rate_bps, size):
    """connections clients, each fetching a ranged artifact at rate_bps, for duration seconds."""
    host = urlsplit(url)
    stats = {"bytes": 0, "responses": 0, "busy": 0, "errors": 0}
    stop = time.monotonic() + duration

    async def one(i):
        rng = random.Random(i)
        while time.monotonic() < stop:
            try:
                r, w = await asyncio.open_connection(host.hostname, host.port)
                start = rng.randrange(0, size - 1)
                w.write(("GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-\r\n\r\n" % (paths[i % len(paths)], start)).encode())
                await w.drain()
                head = await r.readuntil(b"\r\n\r\n")
                status = int(head.split()[1])
                if status == 503:
                    stats["busy"] += 1
                    w.close()
                    await asyncio.sleep(5)
                    continue
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
                stats["responses"] += 1
                got, t0 = 0, time.monotonic()
                while got < length and time.monotonic() < stop:
                    chunk = await r.read(min(16384, length - got))
                    if not chunk:
                        break
                    got += len(chunk)
                    stats["bytes"] += len(chunk)
                    ahead = got / rate_bps - (time.monotonic() - t0)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                w.close()
            except (OSError, asyncio.IncompleteReadError, ValueError, AttributeError):
                stats["errors"] += 1
                await asyncio.sleep(1)

    await asyncio.gather(*(one(i) for i in range(connections)))
    return stats


def download_client(url, paths, connections, duration, size, result_file):
    stats = asyncio.run(slow_downloads(url, paths, connections, duration, 36 * 1024, size))
    Path(result_file).write_text(json.dumps(stats))


def fleet_figures(args, work):
    import multiprocessing
    import ingest
    from fleet.core.config import Settings
    settings = Settings.from_env(db=Path(work) / "dl" / "fleet.db")
    settings.db.parent.mkdir(parents=True, exist_ok=True)
    devices = ingest.enroll_devices(settings, 500)
    # a release served by the fleet: signed URLs for every simulated device
    kit = ReleaseKit(Path(work) / "dl-release")
    folder = kit.build("0.2.0")
    from fleet.ota import releases, urls
    from fleet.schema import open_db
    from fleet.domain.users import Principal
    db = open_db(settings.db)
    releases.trust_key(db, Principal("cli", "bench", "admin"), kit.public)
    rel = releases.upload_folder(db, settings, Principal("cli", "bench", "admin"), folder)
    db.close()
    secret = urls.secret_for(settings)
    paths = [urls.signed(secret, urls.PREFIX, rel["file"], d, 3600) for d, _ in devices]
    env = {"FLEET_DB": str(settings.db), "FLEET_LOG_LEVEL": "warning", "FLEET_DEVICE_RATE_PER_S": "1000",
           "FLEET_DEVICE_BURST": "1000", "FLEET_MAX_CONNECTIONS": "4096"}
    proc, url = bench.start_server([sys.executable, "-m", "fleet.cli", "serve", "--port", "0"], cpu=0, env=env)
    maker = ingest.RequestMaker(devices, url.split("//")[1])
    out = {}
    try:
        bench.run_wrk(url, bench.write_requests(maker.make(3000, 1), work), 2, 32)          # warm-up
        flat = bench.run_wrk(url, bench.write_requests(maker.make(80000, 1), work), 5, 32)
        out["ingest_saturated"] = ingest.figures(flat, 1)
        # a steady load at 60 % of what it takes flat out: a busy fleet, not a saturated one
        pace = max(1, int(32 * 1000 / (0.6 * out["ingest_saturated"]["events_per_s"])))
        out["ingest_pace_ms"] = pace
        alone = bench.run_wrk(url, bench.write_requests(maker.make(40000, 1), work), args.duration, 32, pace_ms=pace)
        out["ingest_alone"] = ingest.figures(alone, 1)
        result = Path(work) / "downloads.json"
        client = multiprocessing.Process(target=download_client, args=(
            url, paths, args.downloads, args.duration + 6, rel["size"], result))
        client.start()
        time.sleep(4)                                  # every connection open and streaming
        under = bench.run_wrk(url, bench.write_requests(maker.make(40000, 1), work), args.duration, 32, pace_ms=pace)
        client.join(args.duration + 30)
        out["ingest_with_downloads"] = ingest.figures(under, 1)
        dl = json.loads(result.read_text())
        dl["bytes_per_s"] = round(dl["bytes"] / (args.duration + 6))
        out["downloads"] = dict(dl, connections=args.downloads)
    finally:
        bench.stop(proc)
    a, u = out["ingest_alone"]["events_per_s"], out["ingest_with_downloads"]["events_per_s"]
    out["ingest_kept_pct"] = round(100.0 * u / max(1, a), 1)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heap", default="96,72", help="firmware heaps (KB) to run the update in, comma-separated")
    parser.add_argument("--downloads", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--skip-board", action="store_true")
    parser.add_argument("--skip-fleet", action="store_true")
    args = parser.parse_args()
    args.heap = [int(k) for k in args.heap.split(",")]
    report = {}
    with bench.temp_dir() as work:
        if not args.skip_board:
            report["board"] = board_figures(args, work)
        if not args.skip_fleet:
            bench.ensure_wrk()
            print("fleet: ingest alone, then with %d downloads..." % args.downloads, flush=True)
            report["fleet"] = fleet_figures(args, work)
    b = report.get("board")
    if b:
        kb = 1024.0
        print("\napp bundle (%d bytes): installed in %.1f s, confirmed in %.1f s; %d bytes down, %d up; "
              "%d erases, %d bytes programmed" % (b["app"]["bundle_bytes"], b["app"]["installed_s"], b["app"]["confirmed_s"],
                                                  b["app"]["bytes_down"], b["app"]["bytes_up"], b["app"]["erases"],
                                                  b["app"]["programmed"]))
        for h in b["app_heap"]:
            print("at a %d KB firmware heap: %s; firmware peak %.1f KB in the updating boot (%.1f KB before it)%s"
                  % (h["heap_kb"], "passes" if h["ok"] else "FAILS", (h["fw_peak_update"] or 0) / kb,
                     (h["fw_peak_before"] or 0) / kb, (": " + h["error"][:120]) if h.get("error") else ""))
        print("resume after a power cut mid-download: +%d bytes, +%.1f s (reboot included)"
              % (b["resume"]["extra_bytes"], b["resume"]["extra_s"]))
        i = b["image"]
        print("firmware image (%d bytes): installed in %.1f s, confirmed in %.1f s; %d bytes down; %d erases"
              % (i["image_bytes"], i["installed_s"], i["confirmed_s"], i["bytes_down"], i["erases"]))
    f = report.get("fleet")
    if f:
        print("ingest flat out %d events/s; paced alone %d events/s (p99 %.1f ms); with %d downloads %d events/s "
              "(p99 %.1f ms, %.1f %% kept); downloads %.2f MB/s, %d busy"
              % (f["ingest_saturated"]["events_per_s"], f["ingest_alone"]["events_per_s"], f["ingest_alone"]["p99_ms"],
                 f["downloads"]["connections"], f["ingest_with_downloads"]["events_per_s"],
                 f["ingest_with_downloads"]["p99_ms"], f["ingest_kept_pct"], f["downloads"]["bytes_per_s"] / 1e6,
                 f["downloads"]["busy"]))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
