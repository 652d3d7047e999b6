"""The running fleet: the long-lived parts one server process holds, started and stopped together.

    settings, capabilities, migrations ─▶ FleetRuntime
                 ├ reader       the event loop's read connection (identities, downlink, status)
                 ├ directory    device identities cache          (fleet.domain.identity)
                 ├ changes      the device change log follower    (fleet.domain.changes)
                 ├ nonces       replay protection                (fleet.domain.nonces)
                 ├ rate         per-device request budget        (fleet.domain.ratelimit)
                 ├ writer       group-commit writer thread       (fleet.domain.writer)
                 ├ downlink     `down` cache + long-poll wake-up  (fleet.domain.downlink)
                 ├ board        liveness + supervisor task       (fleet.domain.status)
                 ├ hub          live pub/sub for SSE              (fleet.live)
                 ├ webhooks     the webhook outbox's delivery worker (fleet.domain.webhooks)
                 ├ services     each capability's long-lived tasks, by name (care: fleet.care.alarms.AlarmService)
                 ├ logins       login throttle                    (fleet.domain.throttle)
                 ├ enrollments  refused-enrollment throttle       (fleet.domain.throttle)
                 ├ refusals     refusals audited as summaries     (fleet.domain.audit.RefusalTally)
                 ├ metrics      Prometheus registry                (fleet.metrics)
                 └ connections  open connections and their limits  (fleet.connections; set by fleet.server)

The runtime is core: it knows no capability by name. fleet/main.py hands it the capabilities
(fleet.capability.Capability) and the whole schema (fleet.schema.MIGRATIONS).
Request handlers reach it as request.app.state.fleet. Admin requests (sync, in a thread pool)
open their own short-lived connection with connect().
"""

import asyncio
import contextlib
import logging

from fleet.core import clock
from fleet.core.security import SecretBox
from fleet.domain import commands  # noqa: F401  (registers the commands/update downlink keys and cmd_result)
from fleet.domain import audit, changes, credentials, devices
from fleet.domain.downlink import Downlink
from fleet.domain.identity import DeviceDirectory
from fleet.domain.nonces import NonceCache
from fleet.domain.ratelimit import DeviceRateLimit
from fleet.domain.status import StatusBoard, supervise, tick
from fleet.domain.throttle import EnrollThrottle, LoginThrottle
from fleet.domain.webhooks import WebhookWorker
from fleet.domain.writer import BULK, GroupCommitWriter
from fleet.errors import Invalid, NotFound
from fleet.live import Hub
from fleet.metrics import FleetMetrics
from fleet.store import db as store

log = logging.getLogger("fleet")


class FleetRuntime:
    def __init__(self, settings, capabilities, migrations):
        self.settings = settings
        self.capabilities = tuple(capabilities)
        self.migrations = migrations
        self.box = SecretBox.from_file(settings.key_path)
        self.hub = Hub()
        self.loop = None
        self.reader = None
        self.writer = None
        self.downlink = None
        self.webhooks = None
        self.services = {}           # capability name -> its running service
        self._supervisor = None
        self._webhook_task = None
        self._run_id = None          # this start's row in server_runs
        self.refusals = audit.RefusalTally()
        self.logins = LoginThrottle(settings, self.refusals)
        self.enrollments = EnrollThrottle(settings, self.refusals)
        self._refusal_writer = None
        self._change_follower = None
        self._token_uses = {}         # token id -> the minute its use was last handed to the writer
        if settings.metrics_token and len(settings.metrics_token) < 16:
            raise Invalid("FLEET_METRICS_TOKEN must be at least 16 characters")
        self.metrics = FleetMetrics(self)
        self.connections = None

    def connect(self):
        """A new connection for one admin request or one thread (caller closes it)."""
        return store.connect(self.settings.db)

    async def start(self):
        s = self.settings
        self.loop = asyncio.get_running_loop()
        self.reader = store.open_db(s.db, self.migrations)          # applies migrations
        self.directory = DeviceDirectory(self.reader, self.box, s.identity_ttl_s)
        self.changes = changes.ChangeFeed(self.reader)
        self.nonces = NonceCache(s.nonce_cache_size)
        self._load_nonces()
        self.rate = DeviceRateLimit(s.device_rate_per_s, s.device_burst)
        self.downlink = Downlink(self.reader, s.identity_ttl_s)
        self.downlink.attach(self.loop)
        self.board = StatusBoard(s)
        self.board.load(self.reader)
        self.hub.attach(self.loop)
        self.writer = GroupCommitWriter(s.db, self.loop, self.downlink.notify, s.commit_max_batch)
        self.metrics.time_commits(self.writer)
        self.writer.start()
        self._supervisor = asyncio.create_task(
            supervise(self.board, self.reader, self.writer, self.hub, s.status_interval_s))
        self.webhooks = WebhookWorker(self.reader, self.writer, self.box, s)
        self._webhook_task = asyncio.create_task(self.webhooks.run(), name="fleet-webhooks")
        for capability in self.capabilities:
            if capability.service is not None:
                self.services[capability.name] = service = capability.service(self)
                await service.start()
        self._refusal_writer = asyncio.create_task(self._write_refusals_every(s.audit_summary_s))
        self._change_follower = asyncio.create_task(self._follow_changes(s.change_poll_s), name="fleet-changes")
        log.info("fleet runtime started on %s", s.db)

    def begin_shutdown(self):
        """The server stops accepting: end live streams and answer parked long-polls now,
        so that open connections finish instead of holding the shutdown up."""
        self.hub.close()
        if self.downlink is not None:
            self.downlink.release_all()

    async def stop(self):
        self.hub.close()
        if self._supervisor:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        with contextlib.suppress(Exception):
            await tick(self.board, self.reader, self.writer, self.hub)   # store the last seen times
        for service in reversed(list(self.services.values())):
            await service.stop()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._webhook_task
        if self._change_follower is not None:
            self._change_follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._change_follower
        if self._refusal_writer is not None:
            self._refusal_writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refusal_writer
        with contextlib.suppress(Exception):
            await self.write_refusals()
        self.writer.stop()
        self._save_nonces()
        self.reader.close()

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    # ---- refusals anyone can cause: audited as one summary row per address and period ------

    async def write_refusals(self):
        drained = self.refusals.drain()
        if drained:
            await self.writer.call(lambda tx: audit.record_refusals(tx.db, drained))

    async def _write_refusals_every(self, period_s):
        while True:
            await asyncio.sleep(period_s)
            try:
                await self.write_refusals()
            except Exception:
                log.exception("refusal summaries not written")

    # ---- telling the running parts about a change made through the admin API --------

    def note_token_use(self, token_id):
        """An API token authenticated a request (any thread): its last_used_at is saved by the
        writer, as bulk work, once a minute at most - never by the request itself."""
        minute = clock.iso()[:16]
        if self._token_uses.get(token_id) == minute:
            return
        self._token_uses[token_id] = minute
        self.loop.call_soon_threadsafe(self._save_token_use, token_id)

    def _save_token_use(self, token_id):
        fut = self.writer.call(lambda tx: credentials.record_token_use(tx.conn, token_id), BULK)
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())     # a lost "last used" is no loss

    def device_changed(self, device_id, downlink=False):
        """After a committed change to a device (enroll, revoke, rotate, config, command). Any thread."""
        self.loop.call_soon_threadsafe(self._device_changed, device_id, downlink)

    def _device_changed(self, device_id, downlink):
        self.directory.invalidate(device_id)
        self.board.load(self.reader, device_id)
        if downlink:
            self.downlink.notify([device_id])
        if self.hub.listened("devices"):
            with contextlib.suppress(NotFound):
                self.hub.publish("devices", "device", devices.summary(devices.get_device(self.reader, device_id)))

    # ---- changes made by any process, from the device change log ----------------------

    async def _follow_changes(self, period_s, prune_every_s=60.0):
        pruned_at, unpruned = self.loop.time(), self.changes.seq
        while True:
            await asyncio.sleep(period_s)
            try:
                self._apply_changes(*self.changes.poll())
                if self.loop.time() - pruned_at >= prune_every_s:
                    # rows read a whole period ago: a slow reader of the log has had its minute
                    upto, unpruned, pruned_at = unpruned, self.changes.seq, self.loop.time()
                    fut = self.writer.call(lambda tx, upto=upto: changes.prune(tx.conn, upto), BULK)
                    fut.add_done_callback(lambda f: f.cancelled() or f.exception())   # retried next period
            except Exception:
                log.exception("device change log not read")

    def _apply_changes(self, down, device):
        """Drop what the running parts cached about these devices and wake their long-polls.
        The cursor rises with every alarm and command: for those only the downlink is redone."""
        for device_id in device:
            self._device_changed(device_id, downlink=False)
        if down or device:
            self.downlink.notify(down | device)

    # ---- replay protection across restarts ---------------------------------------------

    def _load_nonces(self):
        """Reload the nonces the last run saved. If it never stopped (kill -9, power loss), its
        last minutes of nonces are gone: refuse every request signed before this start (the
        device re-signs with a fresh time and nonce), so none of them can be replayed."""
        now = clock.now()
        conn = self.reader.conn
        last = conn.execute("SELECT started_at, stopped_at FROM server_runs ORDER BY id DESC LIMIT 1").fetchone()
        saved = conn.execute("SELECT device_id, nonce, expires FROM seen_nonces").fetchall()
        self.nonces.load(saved, now)
        if last is not None and last[1] is None:
            self.nonces.refuse_signed_before(int(now))
            log.warning("the previous run (started %s) did not stop cleanly: requests signed before now are "
                        "refused as replay; devices re-sign", clock.iso(last[0]))
        with store.write_tx(self.reader):
            conn.execute("DELETE FROM seen_nonces")
            self._run_id = conn.execute("INSERT INTO server_runs (started_at) VALUES (?)", (now,)).lastrowid

    def _save_nonces(self):
        with store.write_tx(self.reader):
            self.reader.conn.execute("DELETE FROM seen_nonces")
            self.reader.conn.executemany("INSERT INTO seen_nonces (device_id, nonce, expires) VALUES (?, ?, ?)",
                                         self.nonces.dump(clock.now()))
            self.reader.conn.execute("UPDATE server_runs SET stopped_at = ? WHERE id = ?", (clock.now(), self._run_id))
