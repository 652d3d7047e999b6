"""Device liveness: never seen, online, offline (silent too long for its role), revoked.

The StatusBoard keeps, in memory, when each device was last heard from. Every authenticated
device request touches it (a dict write, no database I/O). A supervisor task (run by the
runtime) wakes every few seconds - at once when a device comes back - and:
  1. works out which devices changed status,
  2. stores those changes and the batched last-seen times as bulk writer slices (at most
     writer.BULK_ROWS devices each, one statement each: a fleet-sized save never holds an alarm),
  3. then announces them: on the live hub (topic "devices") and to status listeners.

Hooks:
    register_status_rule(role, fn)      fn(config, settings) -> seconds of silence allowed
    register_status_listener(fn)        fn(StatusChange) after the change is stored
A "device missing" alarm (call buttons) is a status listener waiting for new == "offline".
"""

import asyncio
import dataclasses
import json
import logging

from fleet.core import clock
from fleet.core.waiting import within
from fleet.domain.writer import BULK, BULK_ROWS, slices
from fleet.store.db import rows

log = logging.getLogger("fleet.status")

NEVER_SEEN, ONLINE, OFFLINE, REVOKED = "never_seen", "online", "offline", "revoked"


def _heartbeat_rule(config, settings):
    # A call button's heartbeat is its "test transmission": missing after interval + grace.
    return config.get("heartbeat_min", 1440) * 60 + settings.heartbeat_grace_s


def _report_rule(config, settings):
    return config.get("report_min", 60) * 60 * settings.report_intervals_offline + settings.report_grace_s


_rules = {"call_button": _heartbeat_rule, "smart_bin": _report_rule, "beacon": _report_rule}
_listeners = []


def register_status_rule(role, fn):
    """Replace the silence allowed for a role: fn(config dict, Settings) -> seconds. Returns an undo function."""
    previous = _rules.get(role)
    _rules[role] = fn
    return lambda: _rules.__setitem__(role, previous) if previous else _rules.pop(role, None)


def register_status_listener(fn):
    """Call fn(StatusChange) on the event loop after each stored status change. Returns an unregister function."""
    _listeners.append(fn)
    return lambda: _listeners.remove(fn)


def silence_allowed(role, config, settings):
    return _rules.get(role, _report_rule)(config or {}, settings)


@dataclasses.dataclass
class StatusChange:
    device_id: str
    role: str
    old: str
    new: str
    at: str               # when the change was noticed (UTC ISO)
    last_seen: str = None

    def as_dict(self):
        return dataclasses.asdict(self)


class _Device:
    __slots__ = ("role", "status", "last_seen", "timeout")


class StatusBoard:
    def __init__(self, settings):
        self.settings = settings
        self._devices = {}
        self._seen = {}          # device id -> Unix time, not yet stored
        self._pending = []       # StatusChanges noticed on the hot path (came online)
        self._unknown = set()    # touched but not loaded (enrolled by another process)
        self._wake = asyncio.Event()

    def load(self, db, device_id=None):
        """(Re)read devices from the database: all of them, or one after it changed."""
        sql = "SELECT id, role, status, last_seen, revoked_at, config FROM devices"
        found = rows(db, sql + " WHERE id = ?", (device_id,)) if device_id else rows(db, sql)
        if device_id and not found:
            self._devices.pop(device_id, None)
        for rec in found:
            dev = _Device()
            dev.role = rec["role"]
            dev.status = REVOKED if rec["revoked_at"] else rec["status"]
            dev.last_seen = clock.parse_iso(rec["last_seen"])
            unsaved = self._seen.get(rec["id"])
            if unsaved and (dev.last_seen is None or unsaved > dev.last_seen):
                dev.last_seen = unsaved
            dev.timeout = silence_allowed(rec["role"], json.loads(rec["config"] or "{}"), self.settings)
            self._devices[rec["id"]] = dev
            self._unknown.discard(rec["id"])

    def touch(self, device_id, now):
        """The device was just heard from (hot path: memory only)."""
        self._seen[device_id] = now
        dev = self._devices.get(device_id)
        if dev is None:
            self._unknown.add(device_id)
            self._wake.set()
            return
        dev.last_seen = now
        if dev.status != ONLINE and dev.status != REVOKED:
            self._pending.append(StatusChange(device_id, dev.role, dev.status, ONLINE, clock.iso(now), clock.iso(now)))
            dev.status = ONLINE
            self._wake.set()

    def status(self, device_id):
        dev = self._devices.get(device_id)
        return None if dev is None else (dev.status, dev.last_seen)

    def evaluate(self, now):
        """Every status change since the last call (comebacks first, then devices gone silent)."""
        changes, self._pending = self._pending, []
        now_iso = clock.iso(now)
        for device_id, dev in self._devices.items():
            if dev.status == REVOKED or dev.last_seen is None:
                continue    # revoked devices have no liveness; never-seen ones stay so until heard
            should = ONLINE if now - dev.last_seen <= dev.timeout else OFFLINE
            if should != dev.status:
                changes.append(StatusChange(device_id, dev.role, dev.status, should, now_iso,
                                            clock.iso(dev.last_seen)))
                dev.status = should
        return changes

    def take_seen(self):
        seen, self._seen = self._seen, {}
        return seen

    async def wait(self, timeout):
        await within(self._wake.wait(), timeout)
        self._wake.clear()

    def wake(self):
        self._wake.set()

    def take_unknown(self):
        unknown, self._unknown = self._unknown, set()
        return unknown


# One statement per slice, not one per device: each statement is one trip through SQLite (and
# one wait for the GIL, which the busy event loop may hold for up to the switch interval).
_SAVE_SEEN = "UPDATE devices SET last_seen = j.value FROM json_each(?) AS j WHERE devices.id = j.key"
_SAVE_STATUS = ("UPDATE devices SET status = json_extract(j.value, '$[0]'), status_changed_at = "
                "json_extract(j.value, '$[1]') FROM json_each(?) AS j WHERE devices.id = j.key "
                "AND devices.revoked_at IS NULL")


def store(tx, changes, seen):
    """Writer job: persist status changes and last-seen times ({device id: Unix time})."""
    if seen:
        tx.conn.execute(_SAVE_SEEN, (json.dumps({d: clock.iso(t) for d, t in seen.items()}),))
    if changes:
        tx.conn.execute(_SAVE_STATUS, (json.dumps({c.device_id: [c.new, c.at] for c in changes}),))


async def save(writer, changes, seen):
    """Store changes and last-seen times in bulk slices of at most BULK_ROWS devices each; a
    device's status change and its last-seen time go in the same slice (one commit)."""
    changed = {c.device_id: c for c in changes}
    ids = list(dict.fromkeys(list(changed) + list(seen)))
    await asyncio.gather(*(writer.call(lambda tx, part=part: store(
        tx, [changed[d] for d in part if d in changed], {d: seen[d] for d in part if d in seen}), BULK)
        for part in slices(ids, BULK_ROWS)))


async def supervise(board, db, writer, hub, interval):
    """The runtime's status task: notice, store, announce - forever."""
    while True:
        await board.wait(interval)
        try:
            await tick(board, db, writer, hub)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("status supervision tick failed")


async def tick(board, db, writer, hub):
    for device_id in board.take_unknown():
        board.load(db, device_id)
    now = clock.now()
    changes = board.evaluate(now)
    seen = board.take_seen()
    if not (changes or seen):
        return changes
    await save(writer, changes, seen)
    for change in changes:
        hub.publish("devices", "status", change.as_dict())
        for listener in list(_listeners):
            try:
                listener(change)
            except Exception:
                log.exception("status listener %r failed", listener)
    if seen and hub.listened("devices"):      # 10,000 times formatted: only for a devices page open
        hub.publish("devices", "seen", {d: clock.iso(t) for d, t in seen.items()})
    return changes
