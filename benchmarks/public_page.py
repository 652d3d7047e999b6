"""The public asset page (/a/<code>, what a QR label opens): its weight, and its latency while
devices report - and the devices' ingest while the page is asked for.

    python benchmarks/public_page.py [--seconds 20] [--rate 200] [--devices 50] [--ingest-rate 100]

Starts `fleet serve` on a fresh database (a real process on loopback, pinned to CPU 0 as
benchmarks/ingest.py does; this client runs on CPU 1), registers an asset, enrolls --devices
devices, then runs three phases of --seconds each:

  ingest alone   the devices send --ingest-rate signed heartbeats/s between them
  pages alone    one client asks for the asset page at --rate requests/s
  both           the two at once

Both loads are open loops: request i is due at start + i/rate whatever the answers before it
did, and its latency counts from when it was due, so a server that falls behind shows as
queueing instead of slowing the asking down. The client is a few lines of asyncio speaking
HTTP/1.1 over keep-alive connections (httpx costs ~1 ms of CPU a request: at 300 requests/s on a
shared machine it was the bottleneck, not the server). --ingest-rate 0 sends heartbeats flat out
instead, with wrk on 16 connections replaying pre-signed requests (as benchmarks/ingest.py does):
the most the server stores, alone and with the pages.

Prints the page's size with everything it loads (target <= 50 KB), each phase's latency
percentiles and rates, the server's CPU per page, and ends with one JSON line of the figures
(docs/facilities.md, docs/performance.md).
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "firmware" / "app"))

import devproto  # noqa: E402

import _common as bench  # noqa: E402

WRK_CONNECTIONS = 16
PRESIGNED_PER_S = 8000          # more than the fleet stores a second here: wrk never replays one


def start(db_path):
    env = {"FLEET_LOG_LEVEL": "warning", "FLEET_DEVICE_RATE_PER_S": "0"}
    return bench.start_server([sys.executable, "-m", "fleet.cli", "serve", "--port", "0", "--db", str(db_path)],
                              cpu=0, env=env)


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
            out.append([r.json()["device_id"], r.json()["secret"], 0])
    return code, out


def weight(url, code):
    with httpx.Client(base_url=url) as http:
        page = http.get("/a/" + code)
        loaded = [u for u in re.findall(r'(?:href|src)="(/[^"]+)"', page.text)
                  if not u.startswith(("/language/", "/a/", "/open311/"))]
        return len(page.content) + sum(len(http.get(u).content) for u in loaded), loaded


def server_cpu_s(pid):
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- a small HTTP/1.1 keep-alive client ------------------------------------------------------

class Connections:
    """Idle keep-alive connections to one server, opened when none is free."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.authority = parts.netloc
        self.idle = []

    async def request(self, raw):
        """Send a raw request; (status, body). A connection the server closed while idle is replaced."""
        for attempt in (1, 2):
            reused = bool(self.idle)
            reader, writer = self.idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
                body = await reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                if reused and attempt == 1:
                    continue
                raise
            self.idle.append((reader, writer))
            return int(head[9:12]), body

    def close(self):
        for _, writer in self.idle:
            writer.close()
        self.idle = []


def page_request(authority, code):
    return ("GET /a/%s HTTP/1.1\r\nHost: %s\r\nAccept-Language: zh-CN,zh;q=0.9,en;q=0.8\r\n\r\n"
            % (code, authority)).encode()


def heartbeat_request(authority, device):
    device[2] += 1
    now = int(time.time())
    body = json.dumps({"stream": 1, "events": [{"seq": device[2], "t": now, "type": "heartbeat",
                                                "data": {"battery_v": 3.3}}]}, separators=(",", ":")).encode()
    headers = devproto.signed_headers(device[0], device[1], "POST", devproto.PATH_EVENTS, now,
                                      secrets.token_hex(8), body)
    headers["Content-Type"] = "application/json"
    return bench.raw_request("POST", devproto.PATH_EVENTS, authority, headers, body)


class Tally:
    def __init__(self):
        self.latencies, self.failures = [], 0

    def summary(self, seconds):
        lat = sorted(self.latencies)
        if not lat:
            return {"answered_per_s": 0, "failed": self.failures}
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
        return {"answered_per_s": round(len(lat) / seconds, 1), "p50_ms": round(q[49] * 1000, 1),
                "p90_ms": round(q[89] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
                "max_ms": round(lat[-1] * 1000, 1), "failed": self.failures}


async def _one(pool, raw, due, tally):
    try:
        status, _ = await pool.request(raw)
    except (OSError, asyncio.IncompleteReadError):
        status = 0
    if status == 200:
        tally.latencies.append(time.perf_counter() - due)
    else:
        tally.failures += 1


async def open_loop(pool, make, rate, seconds, start):
    """Send make() at `rate` a second from `start` for `seconds`; a Tally of the answers."""
    tally, tasks = Tally(), []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(pool, make(), due, tally)))
    await asyncio.gather(*tasks)
    return tally


def flat_out(url, raws, seconds):
    """wrk replaying pre-signed requests on WRK_CONNECTIONS connections for `seconds`."""
    with bench.temp_dir() as work:
        run = bench.run_wrk(url, bench.write_requests(raws, work), int(seconds), WRK_CONNECTIONS)
    ok = run["requests"] - run["non2xx"]
    return {"answered_per_s": round(ok / (run["duration_us"] / 1e6), 1), "p50_ms": run["p50_us"] / 1000,
            "p90_ms": run["p90_us"] / 1000, "p99_ms": run["p99_us"] / 1000, "max_ms": run["max_us"] / 1000,
            "failed": run["non2xx"] + run["connect_errors"] + run["read_errors"] + run["timeouts"]}


async def phase(url, code, devices, seconds, page_rate, ingest_rate, server_pid):
    """One phase: pages at page_rate (0: none) while devices report at ingest_rate (None: none,
    0: flat out). {"pages": ..., "ingest": ..., "server_cpu_ms_per_page": ...}."""
    pages, ingest = Connections(url), Connections(url)
    turn = [0]

    def next_heartbeat():
        turn[0] += 1
        return heartbeat_request(ingest.authority, devices[turn[0] % len(devices)])

    raw_page = page_request(pages.authority, code)
    presigned = [next_heartbeat() for _ in range(int(PRESIGNED_PER_S * seconds))] if ingest_rate == 0 else None
    start = time.perf_counter() + 0.2
    cpu0 = server_cpu_s(server_pid)
    jobs = {}
    if page_rate:
        jobs["pages"] = open_loop(pages, lambda: raw_page, page_rate, seconds, start)
    if ingest_rate:
        jobs["ingest"] = open_loop(ingest, next_heartbeat, ingest_rate, seconds, start)
    elif ingest_rate == 0:
        jobs["ingest"] = asyncio.to_thread(flat_out, url, presigned, seconds)
    done = dict(zip(jobs, await asyncio.gather(*jobs.values())))
    elapsed = time.perf_counter() - start
    cpu = server_cpu_s(server_pid) - cpu0
    pages.close()
    ingest.close()
    out = {name: r if isinstance(r, dict) else r.summary(elapsed) for name, r in done.items()}
    out["server_cpu_pct"] = round(100 * cpu / elapsed, 1)
    return out


def show(name, result):
    print("%s (server CPU %.0f%% of one core):" % (name, result["server_cpu_pct"]))
    for load in ("pages", "ingest"):
        r = result.get(load)
        if r and "p50_ms" in r:
            print("  %-6s %6.1f answered/s  latency ms p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  failed %d"
                  % (load, r["answered_per_s"], r["p50_ms"], r["p90_ms"], r["p99_ms"], r["max_ms"], r["failed"]))
        elif r:
            print("  %-6s nothing answered, failed %d" % (load, r["failed"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--ingest-rate", type=float, default=100)
    args = parser.parse_args()
    if bench.cores() >= 2:
        os.sched_setaffinity(0, {1})           # the client on CPU 1, the server on CPU 0
    results = {"machine_load_1min": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "fleet.db"
        from fleet.schema import open_db
        open_db(db_path).close()
        proc, url = start(db_path)
        try:
            code, devices = prepare(db_path, url, args.devices)
            size, loaded = weight(url, code)
            asyncio.run(phase(url, code, devices, 2, args.rate, None, proc.pid))        # warm-up
            for name, page_rate, ingest_rate in (("ingest alone", 0, args.ingest_rate),
                                                 ("pages alone", args.rate, None),
                                                 ("pages and ingest", args.rate, args.ingest_rate)):
                results[name] = asyncio.run(phase(url, code, devices, args.seconds, page_rate, ingest_rate, proc.pid))
        finally:
            bench.stop(proc)
    print("public page /a/<code>: %.1f KB with everything it loads (%s); target <= 50 KB: %s"
          % (size / 1024, ", ".join(loaded), "ok" if size <= 50 * 1024 else "OVER"))
    print("pages at %.0f/s, heartbeats %s, %.0f s a phase, %d devices; machine load %.2f at the start"
          % (args.rate, "%.0f/s" % args.ingest_rate if args.ingest_rate else "flat out", args.seconds,
             len(devices), results["machine_load_1min"]))
    for name in ("ingest alone", "pages alone", "pages and ingest"):
        show(name, results[name])
    results.update(page_kb=round(size / 1024, 1), rate=args.rate, ingest_rate=args.ingest_rate)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
