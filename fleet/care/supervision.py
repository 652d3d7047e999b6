"""Supervision of call buttons: a button gone silent, a battery running down.

- Device missing: a call button is `offline` once silent for its heartbeat interval plus
  heartbeat_grace_s (fleet.domain.status). A status listener raises a `device_missing` alarm then,
  and resolves it by itself ("auto_resolved", audited) when the button is heard again. At start the
  service also reconciles: an offline button without an open missing alarm gets one (the change
  may have been stored just before a crash), an online one with an open missing alarm has it closed.
- Low battery: a `battery_low` event (the button's own estimate: low_battery_days of reserve left),
  or a heartbeat reporting battery_v under low_battery_v, raises a `battery_low` alarm. It resolves
  itself when a heartbeat reports at least battery_recover_v more than max(low_battery_v, the
  voltage when raised) - a fresh battery, not a warm afternoon.

Heartbeats are read by a scan every battery_scan_s (BatteryScan) rather than by an event handler,
so that the most common event of the fleet keeps the ingest fast path (handler-less events are
inserted in one batch per group commit). The scan remembers the last event id it looked at in
alarm_state, so a restart neither skips nor repeats heartbeats.

Everything here can come by the thousand (a district's buttons going offline together, a
reconciliation after a long outage, a scan over 10,000 heartbeats), so none of it is one big
writer job: what to do is worked out on a read connection, and only the devices whose alarms
change are written, as bulk slices of a few dozen (fleet.domain.writer); each step checks again
inside its transaction, so a slice that runs late or twice does no harm.

Supervision alarms have category `supervision`: lower priority than calls, shown apart in the
console, never escalated.
"""

import asyncio
import json
import logging

from starlette.concurrency import run_in_threadpool

from fleet.care import alarms
from fleet.domain.ingest import register_event_handler
from fleet.domain.status import OFFLINE, ONLINE, register_status_listener
from fleet.domain.writer import BULK, BULK_ITEMS, slices
from fleet.store.db import connect

log = logging.getLogger("fleet.supervision")

ROLE = "call_button"
SCAN_KEY = "battery_scan_event_id"


# ---- device missing -----------------------------------------------------------------------

def raise_missing(tx, device_id, last_seen=None):
    status = tx.conn.execute("SELECT status, revoked_at FROM devices WHERE id = ?", (device_id,)).fetchone()
    if status is None or status[0] != OFFLINE or status[1]:
        return None      # heard again (or revoked) before this ran
    return alarms.raise_supervision(tx, device_id, alarms.DEVICE_MISSING, {"last_seen": last_seen})


def clear_missing(tx, device_id):
    found = alarms.open_supervision(tx.conn, device_id, alarms.DEVICE_MISSING)
    if found is not None:
        alarms.auto_resolve(tx, found[0], "device heard again at %s" % tx.now_iso)
    return found is not None


def on_status(change):
    """Status listener (event loop): offline raises, back online clears."""
    if change.role != ROLE:
        return
    service = alarms.current()
    if service is None:
        return
    if change.new == OFFLINE:
        service.later(raise_missing, change.device_id, change.last_seen)
    elif change.new == ONLINE and change.old == OFFLINE:
        service.later(clear_missing, change.device_id)


def reconcile_missing(db, service):
    """At start: make open device_missing alarms agree with the stored statuses (the change may
    have been stored just before a crash). Reads on db; the fixes go through service.later()."""
    missing = db.conn.execute(
        "SELECT d.id, d.last_seen FROM devices d WHERE d.role = ? AND d.status = ? AND d.revoked_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM alarms a WHERE a.device_id = d.id AND a.kind = ? AND a.state IN ('received', 'acknowledged'))",
        (ROLE, OFFLINE, alarms.DEVICE_MISSING)).fetchall()
    for device_id, last_seen in missing:
        service.later(raise_missing, device_id, last_seen)
    back = db.conn.execute(
        "SELECT a.device_id FROM alarms a JOIN devices d ON d.id = a.device_id WHERE a.kind = ? AND a.category = ? "
        "AND a.state IN ('received', 'acknowledged') AND d.status = ?",
        (alarms.DEVICE_MISSING, alarms.SUPERVISION, ONLINE)).fetchall()
    for (device_id,) in back:
        service.later(clear_missing, device_id)
    return len(missing), len(back)


# ---- low battery ----------------------------------------------------------------------------

def on_battery_low(tx, device, event):
    """`battery_low` event: the button says its reserve is down to low_battery_days."""
    if device.role != ROLE:
        return
    data = event["data"]
    alarms.raise_supervision(tx, device.id, alarms.BATTERY_LOW, {"event": event["id"], "source": "battery_low event"},
                             battery_v=data["battery_v"], days_left=data.get("days_left"))


def apply_battery_reading(tx, device_id, event_id, volts, low_v, recover_v):
    """Writer step for one call button's latest heartbeat voltage: "raised", "cleared" or None."""
    found = alarms.open_supervision(tx.conn, device_id, alarms.BATTERY_LOW)
    if found is None:
        if volts < low_v and alarms.raise_supervision(
                tx, device_id, alarms.BATTERY_LOW,
                {"event": event_id, "source": "heartbeat", "threshold_v": low_v}, battery_v=volts):
            return "raised"
    elif volts >= max(low_v, found[1] or 0.0) + recover_v:
        alarms.auto_resolve(tx, found[0], "battery at %.2f V (event %d)" % (volts, event_id))
        return "cleared"
    return None


def save_scan_position(tx, last_id):
    tx.conn.execute("INSERT INTO alarm_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                    "SET value = excluded.value WHERE excluded.value > alarm_state.value", (SCAN_KEY, last_id))


def read_battery_readings(db, after_id):
    """(readings, last id): the latest battery_v per call button among heartbeats after after_id."""
    top = db.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    if top <= after_id:
        return {}, after_id
    readings = {}
    for device_id, event_id, volts in db.conn.execute(
            "SELECT e.device_id, max(e.id), json_extract(e.data, '$.battery_v') FROM events e "
            "WHERE e.type = 'heartbeat' AND e.id > ? AND e.id <= ? "
            "AND json_extract(e.data, '$.battery_v') IS NOT NULL GROUP BY e.device_id", (after_id, top)):
        readings[device_id] = (event_id, float(volts))
    if readings:
        buttons = {r[0] for r in db.conn.execute(
            "SELECT j.value FROM json_each(?) AS j JOIN devices d ON d.id = j.value WHERE d.role = ?",
            (json.dumps(list(readings)), ROLE))}
        readings = {d: v for d, v in readings.items() if d in buttons}
    return readings, top


def battery_changes(db, readings, low_v, recover_v):
    """The readings that change an alarm (raise one, or clear the open one), sorted by device:
    what apply_battery_reading would act on, worked out on a read connection."""
    open_low = {d: v for d, v in db.conn.execute(
        "SELECT device_id, battery_v FROM alarms WHERE kind = ? AND category = ? "
        "AND state IN ('received', 'acknowledged')", (alarms.BATTERY_LOW, alarms.SUPERVISION))}
    changes = []
    for device_id, (event_id, volts) in sorted(readings.items()):
        if device_id in open_low:
            if volts >= max(low_v, open_low[device_id] or 0.0) + recover_v:
                changes.append((device_id, event_id, volts))
        elif volts < low_v:
            changes.append((device_id, event_id, volts))
    return changes


def scan_battery_readings(db_path, low_v, recover_v):
    """(changes, last id, previous last id) since the last scan, on a connection of its own:
    runs in a worker thread that a shutdown cannot stop, so nothing it uses is closed under it."""
    db = connect(db_path)
    try:
        row = db.conn.execute("SELECT value FROM alarm_state WHERE name = ?", (SCAN_KEY,)).fetchone()
        after = row[0] if row else 0
        readings, top = read_battery_readings(db, after)
        return battery_changes(db, readings, low_v, recover_v), top, after
    finally:
        db.close()


class BatteryScan:
    """The lifespan task: every battery_scan_s, read new heartbeats (in a thread), apply (in the writer)."""

    def __init__(self, runtime, service):
        self._runtime = runtime
        self._service = service
        self.passes = 0

    async def run(self):
        while True:
            try:
                await self.scan_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("battery scan failed")
            await asyncio.sleep(self._runtime.settings.battery_scan_s)

    async def scan_once(self):
        """Read new heartbeats (in a thread), write the alarms that change (bulk slices), then
        move the scan position - only once every slice is stored, so a failure re-reads them."""
        settings = self._runtime.settings
        low_v, recover_v = settings.low_battery_v, settings.battery_recover_v
        changes, top, after = await run_in_threadpool(scan_battery_readings, settings.db, low_v, recover_v)
        writer = self._runtime.writer
        await asyncio.gather(*(writer.call(lambda tx, part=part: [
            apply_battery_reading(tx, *change, low_v, recover_v) for change in part], BULK)
            for part in slices(changes, BULK_ITEMS)))
        if top != after:
            await writer.call(lambda tx: save_scan_position(tx, top), BULK)
        self.passes += 1
        return changes


register_status_listener(on_status)
register_event_handler("battery_low", on_battery_low)
