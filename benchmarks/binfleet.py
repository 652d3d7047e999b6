"""A real fleet in this process, on loopback, on a simulated clock - for benchmarks/bins.py.

The fleet (fleet.main.create_app under uvicorn, as `fleet serve` runs it) listens on an
ephemeral port in a thread of this process, so its clock can follow the simulation
(fleet.core.clock.use). Bins' boards enroll through the device API and report through it: every
request signed with the device's secret and stamped with the simulated time, as the smart bin
role would send it. The registry is imported as CSV and plans are made through the admin API.
The database is a real SQLite file (in /dev/shm when there is one: the benchmark measures
planning, not fsync).
"""

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import devproto
import httpx

from fleet.core import clock
from fleet.core.config import Settings
from fleet.domain import credentials, enrollment, users
from fleet.main import create_app
from fleet.schema import open_db
from fleet.server import FleetServer, uvicorn_config

ACTOR = users.Principal("cli", "bench", "admin")
HELLO = {"fw": "1.29.0", "app": "0.3.0", "slot": "a", "board": "esp32-devkitc", "role": "smart_bin",
         "reset_cause": "power_on", "wake_reason": "none", "heap_free": 51234}


class SimFleet:
    """The fleet on a simulated clock: set .now, then talk to it."""

    def __init__(self, work, start, **settings):
        self.now = start
        self._previous_clock = clock.use(lambda: self.now)
        self.settings = Settings(db=work / "fleet.db", device_rate_per_s=0, status_interval_s=3600.0,
                                 log_level="warning", **settings)
        db = open_db(self.settings.db)
        user = users.create_user(db, ACTOR, "bench-admin", "admin", secrets.token_urlsafe(16))
        _, token = credentials.create_token(db, ACTOR, user["id"], "benchmark")
        self._db = db
        self.admin = {"Authorization": "Bearer " + token}
        app = create_app(self.settings)
        self.server = FleetServer(uvicorn_config(app, self.settings, host="127.0.0.1", port=0, log_level="warning"),
                                  app.state.fleet, freeze_gc=False)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while self.server.url is None and time.monotonic() < deadline and self.thread.is_alive():
            time.sleep(0.01)
        if not self.server.url:
            raise RuntimeError("the fleet did not start")
        self.http = httpx.Client(base_url=self.server.url, timeout=120,
                                 limits=httpx.Limits(max_connections=16, max_keepalive_connections=16))
        self.pool = ThreadPoolExecutor(8)
        self.devices = {}           # bin id -> [device id, secret, next seq]
        self.requests = 0

    def close(self):
        self.pool.shutdown()
        self.http.close()
        self.server.should_exit = True
        self.thread.join(15)
        self._db.close()
        clock.use(self._previous_clock)

    def _ok(self, response, what):
        if response.status_code >= 300:
            raise RuntimeError("%s: HTTP %d %s" % (what, response.status_code, response.text[:300]))
        return response.json() if response.content else None

    def add_bins(self, bins, threshold):
        """Enroll a board per bin through the device API, import the registry as CSV (attaching
        each board), and say hello from each."""
        tokens = []
        while len(tokens) < len(bins):
            tokens += enrollment.mint_tokens(self._db, ACTOR, 3600, min(enrollment.MAX_COUNT, len(bins) - len(tokens)))
        for b, (_, token) in zip(bins, tokens):
            body = {"token": token, "hw_id": "b1%010x" % int(b.id[1:]), "role": "smart_bin", "board": "esp32-devkitc"}
            got = self._ok(self.http.post(devproto.PATH_ENROLL, json=body), "enroll %s" % b.id)
            self.devices[b.id] = [got["device_id"], got["secret"], 1]
        lines = ["id,name,lat,lon,capacity_l,waste_type,depth_mm,threshold_pct,area,device_id"]
        lines += ["%s,,%s,%s,%d,%s,%d,%d,district,%s" % (b.id, b.lat, b.lon, b.capacity_l, b.waste_type, b.depth_mm,
                                                         threshold, self.devices[b.id][0]) for b in bins]
        self._ok(self.http.post("/api/v1/bins/import", content="\n".join(lines).encode(),
                                headers=dict(self.admin, **{"Content-Type": "text/csv"})), "import")
        self.send_all([(b.id, devproto.PATH_HELLO, dict(HELLO)) for b in bins])

    def _signed(self, bin_id, path, body):
        device_id, secret, _ = self.devices[bin_id]
        raw = json.dumps(body, separators=(",", ":")).encode()
        t = int(self.now)
        headers = devproto.signed_headers(device_id, secret, "POST", path, t, secrets.token_hex(8), raw)
        return self._ok(self.http.post(path, content=raw, headers=headers), "%s %s" % (path, bin_id))

    def send_all(self, requests):
        """[(bin id, path, body)] sent at once (a board's wake is one request), all answered."""
        self.requests += len(requests)
        for f in [self.pool.submit(self._signed, *r) for r in requests]:
            f.result()

    def events_request(self, bin_id, events):
        """(bin id, path, body) of one wake's events, numbered as the board numbers them."""
        dev = self.devices[bin_id]
        batch = []
        for etype, data in events:
            batch.append({"seq": dev[2], "t": int(self.now), "type": etype, "data": data})
            dev[2] += 1
        return (bin_id, devproto.PATH_EVENTS, {"stream": 1, "events": batch})

    def plan(self, shift_start):
        return self._ok(self.http.post("/api/v1/waste/plans", json={"shift_start": shift_start},
                                       headers=self.admin), "plan")

    def forecasts(self):
        """{bin id: forecast} as the bins page gets them."""
        got = self._ok(self.http.get("/api/v1/bins?forecast=true", headers=self.admin), "bins")
        return {b["id"]: b["forecast"] for b in got}
