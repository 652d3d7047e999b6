"""The `down` object on every device response, the cursor, and waking long-polls.

down = {"cursor", "config_version", ["config"], <one key per provider>}. Core keys come from
the devices row; every other key comes from a registered provider:

    register_downlink_provider("alarms", fn, roles=("call_button",))
    def fn(db, device): return {...}   # JSON-able; runs on the event loop, read-only, quick

`commands` and `update` are providers too (fleet.domain.commands; `update` is null until the
OTA work replaces it with register_downlink_provider("update", fn, replace=True)).

Whenever anything in a device's `down` changes, its cursor must rise:
- inside an ingest transaction: tx.mark_downlink_changed(device_id);
- elsewhere, after committing the change: Downlink.bump(db, device_id) from a thread, or
  `await writer.call(lambda tx: tx.mark_downlink_changed(device_id))` from a coroutine.
Both wake the device's long-poll at once (an asyncio future, no database polling).

Composed `down` objects are cached per device until the cursor rises. A change made by another
process (the CLI) reaches notify() from the device change log (fleet.domain.changes); `ttl` is
a backstop.
"""

import json
import time
from typing import NamedTuple

import orjson

from fleet.core.waiting import within
from fleet.store.db import row, write_tx

_providers = {}     # key -> (fn, roles or None), in registration order


def register_downlink_provider(key, fn, roles=None, replace=False):
    """Add key to `down`: fn(db, device) -> value, for devices of `roles` (all if None)."""
    if key in ("cursor", "config_version", "config"):
        raise ValueError("%r is a core downlink key" % key)
    if key in _providers and not replace:
        raise ValueError("downlink key %r already has a provider (pass replace=True)" % key)
    previous = _providers.get(key)
    _providers[key] = (fn, tuple(roles) if roles else None)

    def unregister():
        if previous is None:
            _providers.pop(key, None)
        else:
            _providers[key] = previous
    return unregister


def raise_cursors(conn, device_ids):
    """Inside an open transaction: these devices' `down` changed in it (one statement for all)."""
    conn.execute("UPDATE devices SET cursor = cursor + 1 WHERE id IN (SELECT value FROM json_each(?))",
                 (json.dumps(list(device_ids)),))


class _Entry(NamedTuple):
    """One device's composed `down`, serialised once. Cached as an exact tuple of numbers and
    orjson fragments, which the garbage collector stops tracking (a cache of 10,000 nested dicts
    made every full collection walk them, with the event loop frozen)."""
    cursor: int
    config_version: int
    plain: orjson.Fragment          # without `config`
    with_config: orjson.Fragment
    loaded: float

    def down(self, cv):
        """`config` is included unless the device already runs config_version cv."""
        return self.plain if cv == self.config_version else self.with_config


class Downlink:
    def __init__(self, db, ttl=600.0):
        self._db = db               # the event loop's read connection
        self._ttl = ttl
        self._cache = {}            # device id -> tuple(_Entry)
        self._waiters = {}          # device id -> set of futures
        self._loop = None
        self._closing = False

    def attach(self, loop):
        self._loop = loop

    # ---- composing ------------------------------------------------------------

    def _load(self, device):
        rec = row(self._db, "SELECT cursor, config_version, config FROM devices WHERE id = ?", (device.id,))
        plain = {"cursor": rec["cursor"], "config_version": rec["config_version"]}
        for key, (fn, roles) in _providers.items():
            if roles is None or device.role in roles:
                plain[key] = fn(self._db, device)
        entry = _Entry(rec["cursor"], rec["config_version"], orjson.Fragment(orjson.dumps(plain)),
                       orjson.Fragment(orjson.dumps(dict(plain, config=json.loads(rec["config"])))),
                       time.monotonic())
        self._cache[device.id] = tuple(entry)       # exact tuple: untracked (see _Entry)
        return entry

    def entry(self, device):
        cached = self._cache.get(device.id)
        if cached is None or time.monotonic() - cached[-1] > self._ttl:
            return self._load(device)
        return _Entry._make(cached)

    def compose(self, device, cv=None):
        """The device's `down` for a device that reported config version cv, as JSON ready to be
        embedded in a reply (orjson.Fragment)."""
        return self.entry(device).down(cv)

    # ---- changes and long-poll --------------------------------------------------

    def notify(self, device_ids):
        """On the event loop: these devices' downlinks changed (already committed)."""
        for device_id in device_ids:
            self._cache.pop(device_id, None)
            for fut in self._waiters.pop(device_id, ()):
                if not fut.done():
                    fut.set_result(None)

    def release_all(self):
        """Shutting down: every parked long-poll answers now with the current `down`."""
        self._closing = True
        self.notify(list(self._waiters))

    def notify_threadsafe(self, device_ids):
        self._loop.call_soon_threadsafe(self.notify, list(device_ids))

    def bump(self, db, *device_ids):
        """Raise the cursors (own transaction on db, from any thread) and wake their long-polls."""
        with write_tx(db):
            raise_cursors(db.conn, device_ids)
        if self._loop is not None:
            self.notify_threadsafe(device_ids)

    async def wait_beyond(self, device, cursor, timeout):
        """`down` as soon as its cursor is above `cursor`, or the current one after timeout seconds."""
        deadline = self._loop.time() + timeout
        while True:
            fut = self._loop.create_future()
            self._waiters.setdefault(device.id, set()).add(fut)   # before reading: no lost wake-up
            try:
                entry = self.entry(device)
                remaining = deadline - self._loop.time()
                if entry.cursor > cursor or remaining <= 0 or self._closing:
                    return entry
                await within(fut, remaining)
            finally:
                waiters = self._waiters.get(device.id)
                if waiters is not None:
                    waiters.discard(fut)
                    if not waiters:
                        del self._waiters[device.id]
