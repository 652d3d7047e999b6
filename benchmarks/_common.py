"""Shared pieces of the benchmarks: wrk driving pre-built raw requests, pinned processes, the bare app.

Run as a script it serves the *bare* endpoint: FastAPI + pydantic, JSON in and out, the
same path and response shape as the fleet's events endpoint but no signature, no storage.
It is what "the framework's limit" means in docs/performance.md.
"""

import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

LISTENING = re.compile(r"listening on (http://\S+)")


# ---- the bare endpoint ----------------------------------------------------------

def bare_app():
    from fastapi import FastAPI
    from pydantic import BaseModel

    class Event(BaseModel):
        seq: int
        t: int
        type: str
        data: dict[str, Any] = {}

    class Batch(BaseModel):
        stream: int = 0
        cv: Optional[int] = None
        events: list[Event]

    class Ack(BaseModel):
        ack: int
        stored: int
        duplicates: int
        down: dict[str, Any]
        time: float

    app = FastAPI()

    @app.post("/api/v1/device/events", response_model=Ack)
    async def events(batch: Batch):
        return {"ack": max(e.seq for e in batch.events), "stored": len(batch.events), "duplicates": 0,
                "down": {"cursor": 1, "config_version": 1, "commands": [], "update": None}, "time": time.time()}

    return app


def serve_bare(port=0):
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            gc.collect()
            gc.freeze()     # as fleet.server does: a like-for-like comparison
            host, real_port = self.servers[0].sockets[0].getsockname()[:2]
            print("bare endpoint listening on http://%s:%d" % (host, real_port), flush=True)

    Server(uvicorn.Config(bare_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)).run()


# ---- processes ------------------------------------------------------------------

def cores():
    return os.cpu_count() or 1


def pinned(cmd, cpu):
    """cmd under taskset on one cpu (when there are at least two and taskset exists)."""
    if cores() >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)] + cmd
    return cmd


def start_server(cmd, cpu, env=None, timeout=30):
    """Start a server process that prints 'listening on URL'; return (process, url)."""
    proc = subprocess.Popen(pinned(cmd, cpu), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, **(env or {})))
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = LISTENING.search(line)
        if found:
            # Keep draining its output so it never blocks on a full pipe.
            import threading
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, found.group(1)
    proc.kill()
    raise RuntimeError("server did not start:\n" + "".join(lines))


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---- wrk --------------------------------------------------------------------------

REPLAY_LUA = r"""-- wrk script: replay pre-built raw HTTP requests from a file ("<length>\n<bytes>" records),
-- in order, cycling; print the run's figures as one JSON line at the end. A second argument
-- paces the load: each connection waits that many ms before each request.
local reqs = {}
local n = 0
local i = 0
local pace = 0

function delay()
  return pace
end

function init(args)
  pace = tonumber(args[2] or "0")
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    n = n + 1
    reqs[n] = string.sub(data, nl + 1, nl + len)
    pos = nl + len + 1
  end
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

local statuses = {}

function response(status, headers, body)
  if status >= 300 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local refused = {}
  for code, count in pairs(statuses) do
    refused[#refused + 1] = string.format('"%d": %d', code, count)
  end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(refused, ", ")))
end
"""


def ensure_wrk():
    if shutil.which("wrk"):
        return shutil.which("wrk")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk")


def raw_request(method, path, host, headers, body):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    lines += ["%s: %s" % kv for kv in headers.items()]
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def write_requests(raws, directory):
    """A file wrk's Lua script replays: each request as '<length>\\n<bytes>'."""
    path = Path(directory) / ("requests-%d.bin" % time.monotonic_ns())
    with open(path, "wb") as f:
        for raw in raws:
            f.write(b"%d\n" % len(raw))
            f.write(raw)
    return path


def run_wrk(url, request_file, duration, connections, cpu=1, pace_ms=0):
    """Replay request_file (cycling) against url; the figures of the run as a dict. pace_ms > 0:
    each connection waits that long before each request (a steady load instead of flat out)."""
    lua = Path(request_file).with_suffix(".lua")
    lua.write_text(REPLAY_LUA)
    cmd = pinned([ensure_wrk(), "-t1", "-c%d" % connections, "-d%ds" % duration, "--timeout", "10s",
                  "-s", str(lua), url, "--", str(request_file), str(pace_ms)], cpu)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[len("WRKJSON "):])
    raise RuntimeError("wrk printed no figures:\n" + out)


def temp_dir():
    return tempfile.TemporaryDirectory(prefix="fleet-bench-")


if __name__ == "__main__":
    serve_bare(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
