"""The public asset page (/a/<code>, what a QR label opens): its weight, and its latency while
devices report.

    python benchmarks/public_page.py [--seconds 20] [--rate 200] [--devices 50] [--ingest-rate 100]

Starts `fleet serve` on a fresh database (a real process on loopback), registers an asset, then
for --seconds: one client asks for the asset page at a steady --rate requests/s (paced: a late
answer does not slow the asking down, so queueing shows in the latency) while --devices signed
devices send --ingest-rate heartbeats/s between them (each its own signed request; 0: as fast as
they are answered, which saturates the server and measures something else). Prints the page's size with
everything it loads (target <= 50 KB), its latency percentiles and the ingest rate achieved
meanwhile (figures in docs/facilities.md).
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware" / "app"))

import devproto  # noqa: E402


def start(db_path):
    proc = subprocess.Popen([sys.executable, "-m", "fleet.cli", "serve", "--port", "0", "--db", str(db_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, FLEET_LOG_LEVEL="warning", FLEET_DEVICE_RATE_PER_S="0"))
    for line in proc.stdout:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return proc, found.group(1)
    raise SystemExit("the fleet did not start")


def prepare(db_path, url, devices):
    from fleet.domain import enrollment, users
    from fleet.facilities import assets
    from fleet.schema import open_db
    db = open_db(db_path)
    cli = users.Principal("cli", "bench", "admin")
    code = assets.create_asset(db, cli, {"type": "streetlight", "name": "Lamp 1", "address": "Xialu Road 1",
                                         "maintainer": "Xialu Lighting Co"})["code"]
    tokens = enrollment.mint_tokens(db, cli, 3600, devices)
    db.close()
    out = []
    with httpx.Client(base_url=url) as http:
        for _, token in tokens:
            r = http.post(devproto.PATH_ENROLL, json={"token": token, "hw_id": secrets.token_hex(6),
                                                      "role": "beacon", "board": "virtual"})
            out.append((r.json()["device_id"], r.json()["secret"]))
    return code, out


def weight(url, code):
    with httpx.Client(base_url=url) as http:
        page = http.get("/a/" + code)
        loaded = [u for u in re.findall(r'(?:href|src)="(/[^"]+)"', page.text)
                  if not u.startswith(("/language/", "/a/", "/open311/"))]
        return len(page.content) + sum(len(http.get(u).content) for u in loaded), loaded


async def ingest(url, device, stop, counter, period):
    device_id, secret = device
    seq = 0
    await asyncio.sleep(period * secrets.randbelow(1000) / 1000)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while not stop.is_set():
            seq += 1
            body = json.dumps({"stream": 1, "events": [{"seq": seq, "t": int(time.time()), "type": "heartbeat",
                                                        "data": {"battery_v": 3.3}}]}).encode()
            headers = devproto.signed_headers(device_id, secret, "POST", devproto.PATH_EVENTS, int(time.time()),
                                              secrets.token_hex(8), body)
            r = await http.post(devproto.PATH_EVENTS, content=body, headers=headers)
            if r.status_code == 200:
                counter[0] += 1
            if period:
                await asyncio.sleep(period)


async def pages(url, code, rate, seconds):
    latencies, failures = [], 0
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=200)) as http:
        async def one():
            nonlocal failures
            t0 = time.perf_counter()
            r = await http.get("/a/" + code)
            if r.status_code == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                failures += 1
        tasks, start = [], time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies, failures


async def load(url, code, devices, rate, seconds, ingest_rate):
    stop, counter = asyncio.Event(), [0]
    period = len(devices) / ingest_rate if ingest_rate else 0
    feeders = [asyncio.create_task(ingest(url, d, stop, counter, period)) for d in devices]
    await asyncio.sleep(1.0)
    before, t0 = counter[0], time.perf_counter()
    latencies, failures = await pages(url, code, rate, seconds)
    ingested = (counter[0] - before) / (time.perf_counter() - t0)
    stop.set()
    await asyncio.gather(*feeders, return_exceptions=True)
    return latencies, failures, ingested


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--ingest-rate", type=float, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "fleet.db"
        from fleet.schema import open_db
        open_db(db_path).close()
        proc, url = start(db_path)
        try:
            code, devices = prepare(db_path, url, args.devices)
            size, loaded = weight(url, code)
            latencies, failures, ingested = asyncio.run(load(url, code, devices, args.rate, args.seconds,
                                                                 args.ingest_rate))
        finally:
            proc.terminate()
            proc.wait(10)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    print("public page /a/<code>: %.1f KB with everything it loads (%s); target <= 50 KB: %s"
          % (size / 1024, ", ".join(loaded), "ok" if size <= 50 * 1024 else "OVER"))
    print("%d pages at %.0f/s for %.0f s while %d devices reported (%.0f heartbeats/s stored meanwhile)"
          % (len(latencies), args.rate, args.seconds, len(devices), ingested))
    print("latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f; failed %d"
          % (q[49] * 1000, q[89] * 1000, q[98] * 1000, max(latencies) * 1000, failures))


if __name__ == "__main__":
    main()
