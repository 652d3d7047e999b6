"""OTA's long-lived parts in a server (its Capability.service): the rollout engine's loop (a tick
every FLEET_OTA_TICK_S, and at once when a device reports), the live topic `ota`, and the download
counter the download route shares. FleetRuntime starts it in the app lifespan."""

import asyncio
import contextlib
import logging
import time

from fleet.core.waiting import within
from fleet.ota import progress, releases, rollouts, urls
from fleet.ota.engine import Engine

log = logging.getLogger("fleet.ota")


class ByteBudget:
    """A token bucket of bytes per second shared by every download (on the event loop). Waiters
    queue behind one lock, so only the first sleeps: a thousand downloads waiting wake one at a
    time, not all at every tick."""

    def __init__(self, rate):
        self.rate = rate
        self.level = float(rate)
        self.t = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, n):
        if not self.rate:
            return
        async with self.lock:
            now = time.monotonic()
            self.level = min(float(self.rate), self.level + (now - self.t) * self.rate)
            self.t = now
            if self.level < n:
                await asyncio.sleep((n - self.level) / self.rate)
                self.level = float(n)
                self.t = time.monotonic()
            self.level -= n


class OtaService:
    def __init__(self, runtime):
        self.runtime = runtime
        self.settings = runtime.settings
        self.active = 0                 # downloads being served now
        self.served = 0
        self.refused = 0                # downloads turned away (busy)
        self.engine = None
        self.db = None
        self.task = None
        self.wake = None
        self.stopping = False           # stop(): run() ends after the tick under way, if any
        self.ticks = 0                  # engine passes so far (tests wait for the next one)
        self.budget = ByteBudget(runtime.settings.ota_download_bytes_per_s)

    async def start(self):
        s = self.settings
        progress.config.update(secret=urls.secret_for(s), base=urls.PREFIX, mirror=s.ota_mirror_url,
                               ttl_s=s.ota_url_ttl_s, on_progress=self.on_progress)
        progress._releases.clear()
        s.ota_path.mkdir(parents=True, exist_ok=True)
        releases.delete_artifact_tmp(s)
        self.db = self.runtime.connect()
        self.engine = Engine(self.db)
        self.wake = asyncio.Event()
        self.task = asyncio.create_task(self.run(), name="fleet-ota-rollouts")

    async def stop(self):
        progress.config["on_progress"] = None
        if self.task is not None:
            # Not cancelled: a tick runs in a thread on self.db, which a cancel would leave
            # running while the connection is closed below (sqlite3 then segfaulted the
            # process, in a fresh-clone test run). The tick is short; run() ends after it.
            self.stopping = True
            self.wake.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.db is not None:
            self.db.close()

    def on_progress(self, note):
        """On the loop, after a device's `ota` event committed."""
        self.runtime.hub.publish("ota", "device", note)
        self.wake.set()

    def poke(self):
        """A person changed a rollout: run the engine now."""
        self.wake.set()

    def turned_away(self, device_id):
        """The download route refused device_id as busy: its timeout restarts (never a failure)."""
        self.refused += 1
        self.engine.busy[device_id] = time.time()

    async def run(self):
        while True:
            await within(self.wake.wait(), self.settings.ota_tick_s)
            self.wake.clear()
            if self.stopping:
                return
            try:
                changed, summaries = await asyncio.to_thread(self._tick)
            except Exception:
                log.exception("rollout engine tick failed")
                continue
            self.ticks += 1
            if changed:
                self.runtime.downlink.notify(changed)
            for s in summaries:
                self.runtime.hub.publish("ota", "rollout", s)

    def _tick(self):
        changed, touched = self.engine.tick()
        return changed, [brief(self.db, rid) for rid in touched]


def brief(db, rollout_id):
    """A rollout without its device list: state, phase, per-phase counts, reason."""
    r = rollouts.get_rollout(db, rollout_id, devices=False, history=False)
    return {k: r[k] for k in ("id", "release_id", "name", "state", "phase", "reason", "updated_at", "phases")}
