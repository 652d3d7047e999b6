"""Ingest benchmark: signed events over real HTTP, acked only after a durable commit.

    python benchmarks/ingest.py [--devices 2000] [--duration 10] [--connections 64]

1. enrolls N devices in a fresh database (temp dir);
2. serves the bare endpoint (benchmarks/_common.py: FastAPI + pydantic, same path and shape, no
   signature, no storage) and then the real fleet (`fleet serve`), each alone, one uvicorn
   worker on loopback, pinned to CPU 0;
3. drives each with wrk pinned to CPU 1, replaying pre-built requests - for the fleet every one
   signed with its device's secret and a fresh nonce, events numbered per device - first
   single-event requests, then batches of 20;
4. checks that the database holds every acknowledged event;
5. prints events/s acknowledged, p50/p99 latency and the ratio to the bare endpoint, and ends
   with one JSON line of the figures.

The bare run replays a small set of requests in a loop; the fleet run needs a fresh request
for each send (a replayed nonce is refused), so it gets 1.5x what the bare rate would use.
"""

import argparse
import json
import os
import platform
import secrets
import sqlite3
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import devproto  # noqa: E402

import _common as bench  # noqa: E402
from fleet.core import clock  # noqa: E402
from fleet.core.config import Settings  # noqa: E402
from fleet.core.security import SecretBox  # noqa: E402
from fleet.domain import enrollment  # noqa: E402
from fleet.domain.users import Principal  # noqa: E402
from fleet.schema import open_db  # noqa: E402
from fleet.store.db import write_tx  # noqa: E402

BATCH_SIZES = (1, 20)
BARE_SET = 4000


def enroll_devices(settings, count):
    """[(device_id, secret)] for count fresh devices, enrolled through the real enrollment code."""
    db = open_db(settings.db)
    box = SecretBox.from_file(settings.key_path)
    actor = Principal("cli", "bench", "admin")
    out = []
    minted = []
    while len(minted) < count:
        minted += enrollment.mint_tokens(db, actor, 3600, min(enrollment.MAX_COUNT, count - len(minted)))
    for i, (_, token) in enumerate(minted):
        body = {"token": token, "hw_id": "%012x" % (0xB0000000 + i), "role": devproto.ROLES[i % 3],
                "board": "esp32-devkitc"}
        result = enrollment.enroll(db, box, body)
        out.append((result["device_id"], result["secret"]))
    with write_tx(db):   # the benchmark measures ingest, not the first "online" transition
        db.conn.execute("UPDATE devices SET status = 'online', last_seen = ?", (clock.iso(),))
    db.close()
    return out


class RequestMaker:
    """Signed events requests, round-robin over devices, each device numbering its own events."""

    def __init__(self, devices, host):
        self.devices = devices
        self.host = host
        self.seq = {d: 0 for d, _ in devices}
        self.turn = 0

    def events(self, device_id, size, now):
        out = []
        for _ in range(size):
            self.seq[device_id] += 1
            seq = self.seq[device_id]
            if seq % 5 == 0:
                out.append({"seq": seq, "t": now, "type": "heartbeat", "data": {"battery_v": 3.01, "interval_min": 1440}})
            else:
                out.append({"seq": seq, "t": now, "type": "telemetry", "data": {"fill": 0.42, "temp_c": 21.5}})
        return out

    def make(self, count, size, signed=True):
        now = int(time.time())
        raws = []
        for _ in range(count):
            device_id, secret = self.devices[self.turn % len(self.devices)]
            self.turn += 1
            body = json.dumps({"stream": 1, "cv": 1, "events": self.events(device_id, size, now)},
                              separators=(",", ":")).encode()
            headers = devproto.signed_headers(device_id, secret, "POST", devproto.PATH_EVENTS, now,
                                              secrets.token_hex(8), body)
            if not signed:
                headers = {"Content-Type": "application/json"}
            raws.append(bench.raw_request("POST", devproto.PATH_EVENTS, self.host, headers, body))
        return raws


def figures(run, size):
    seconds = run["duration_us"] / 1e6
    ok = run["requests"] - run["non2xx"]
    return {"requests_per_s": round(ok / seconds), "events_per_s": round(ok * size / seconds),
            "p50_ms": run["p50_us"] / 1000, "p99_ms": run["p99_us"] / 1000, "acked_requests": ok,
            "errors": run["non2xx"] + run["connect_errors"] + run["read_errors"] + run["write_errors"]
            + run["timeouts"]}


def run_bare(args, work):
    proc, url = bench.start_server([sys.executable, str(HERE / "_common.py")], cpu=0)
    maker = RequestMaker([("bare-%d" % i, "00" * 32) for i in range(100)], url.split("//")[1])
    results = {}
    try:
        for size in BATCH_SIZES:
            reqs = bench.write_requests(maker.make(BARE_SET, size), work)
            bench.run_wrk(url, reqs, 2, args.connections)                  # warm-up
            results[size] = figures(bench.run_wrk(url, reqs, args.duration, args.connections), size)
    finally:
        bench.stop(proc)
    return results


def run_fleet(args, work, devices, settings, bare):
    # Each simulated device sends several requests a second (a real one, a few a minute): the
    # per-device limit stays on, so its cost is measured, but high enough not to refuse them.
    env = {"FLEET_DB": str(settings.db), "FLEET_LOG_LEVEL": "warning", "FLEET_DEVICE_RATE_PER_S": "1000",
           "FLEET_DEVICE_BURST": "1000"}
    proc, url = bench.start_server([sys.executable, "-m", "fleet.cli", "serve", "--port", "0"], cpu=0, env=env)
    maker = RequestMaker(devices, url.split("//")[1])
    results = {}
    try:
        bench.run_wrk(url, bench.write_requests(maker.make(5000, 1), work), 2, args.connections)  # warm-up
        warm = sum(maker.seq.values())
        for size in BATCH_SIZES:
            needed = int(bare[size]["requests_per_s"] * args.duration * 1.5) + 5000
            reqs = bench.write_requests(maker.make(needed, size), work)
            run = bench.run_wrk(url, reqs, args.duration, args.connections)
            if run["requests"] >= needed:
                print("warning: the fleet used up the %d pre-signed requests; replays were refused" % needed)
            results[size] = figures(run, size)
    finally:
        bench.stop(proc)
    stored = sqlite3.connect(settings.db).execute("SELECT count(*) FROM events").fetchone()[0]
    acked = sum(results[s]["acked_requests"] * s for s in BATCH_SIZES)
    return results, stored - warm, acked


def machine():
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version(),
            "system": platform.platform(terse=True)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=64, help="concurrent HTTP connections")
    args = parser.parse_args()
    bench.ensure_wrk()
    with bench.temp_dir() as work:
        settings = Settings.from_env(db=Path(work) / "fleet.db")
        print("enrolling %d devices..." % args.devices, flush=True)
        devices = enroll_devices(settings, args.devices)
        print("bare endpoint...", flush=True)
        bare = run_bare(args, work)
        print("fleet...", flush=True)
        fleet, stored, acked = run_fleet(args, work, devices, settings, bare)

    print("\n%-22s %12s %12s %9s %9s %7s" % ("", "events/s", "requests/s", "p50 ms", "p99 ms", "ratio"))
    report = {"devices": args.devices, "connections": args.connections, "duration_s": args.duration,
              "machine": machine(), "stored_events_checked": stored >= acked}
    for size in BATCH_SIZES:
        ratio = fleet[size]["requests_per_s"] / max(1, bare[size]["requests_per_s"])
        for name, r in (("bare, %d event(s)" % size, bare[size]), ("fleet, %d event(s)" % size, fleet[size])):
            print("%-22s %12d %12d %9.2f %9.2f %7s" % (name, r["events_per_s"], r["requests_per_s"], r["p50_ms"],
                                                      r["p99_ms"], "%.2f" % ratio if name.startswith("fleet") else ""))
        report["batch_%d" % size] = {"fleet": fleet[size], "bare": bare[size], "ratio": round(ratio, 3)}
    print("\nacknowledged events %d, stored %d: %s" % (acked, stored, "every ack is in the database"
                                                       if stored >= acked else "MISSING EVENTS"))
    print(json.dumps(report))
    return 0 if stored >= acked else 1


if __name__ == "__main__":
    sys.exit(main())
