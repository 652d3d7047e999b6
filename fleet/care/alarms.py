"""Alarms: what a call button press becomes in the fleet, from storage to resolution.

Lifecycle (docs/alarms.md):

    device: raised ──▶ fleet stores the `alarm` event: received ──▶ acknowledged (a named caregiver)
                                         │                               │
                                         └──▶ cancelled (alarm_cancel)   └──▶ resolved (with a note)

- One alarm per (device, ref). The `alarm` handler runs only for an event stored for the first
  time, so a retried batch never raises a second alarm; an `alarm` event with a ref already known
  (the device's own application-level retry, new seq) is recorded in the history and changes nothing.
- A cancel stored before its alarm (events above a gap are stored first) creates the alarm as
  `cancelled` at once; the alarm event, when it arrives, completes the record and notifies no one.
- A cancel after acknowledgement leaves the alarm acknowledged: the history says "cancel requested
  after acknowledgement" and the console shows it.
- Supervision alarms (kind `device_missing`, `battery_low`; category `supervision`, ref NULL) are
  raised by the fleet itself (fleet.care.supervision) and resolve themselves when the device is
  heard again or its battery recovers.

Every transition writes a history row (alarm_events) and an audit row (who, when; never resident
data), raises the device's downlink cursor when `down.alarms` changes, and - once the transaction
is durable - is published on the live hub (topic "alarms") and queued for webhooks.

Transitions are functions of a transaction `tx` with the WriteTx interface (conn, db, now,
now_iso, mark_downlink_changed, after_commit): always the group-commit writer's - inside event
handlers, in the alarm service's jobs, and for a caregiver's acknowledge/resolve (respond(): an
URGENT writer job, so a person's action neither waits for the database lock behind the writer
nor holds the writer up).
"""

import asyncio
import contextlib
import functools
import json
import logging

from fleet.core import clock
from fleet.care import escalation, residents
from fleet.domain import audit, webhooks
from fleet.domain.alarmsink import register_alarm_sink
from fleet.domain.downlink import register_downlink_provider
from fleet.domain.guards import register_update_guard
from fleet.domain.ingest import register_event_handler
from fleet.domain.writer import BULK, BULK_ITEMS, URGENT, slices
from fleet.errors import Conflict, Invalid, NotFound
from fleet.store.db import row, rows

log = logging.getLogger("fleet.alarms")

OPEN_STATES = ("received", "acknowledged")
CLOSED_STATES = ("resolved", "cancelled")
STATES = OPEN_STATES + CLOSED_STATES
CALL, SUPERVISION, HAZARD = "call", "supervision", "hazard"   # hazard: raised by another capability
CATEGORIES = (CALL, SUPERVISION, HAZARD)
DEVICE_MISSING, BATTERY_LOW = "device_missing", "battery_low"
FIRST_GROUP = "primary"          # who hears of an alarm first: the console and group-less webhooks
FLEET = "fleet"                  # actor of what the fleet does by itself
RECENT_S = 24 * 3600             # closed alarms stay in down.alarms and the console this long
DOWN_CLOSED_MAX = 8              # ...at most this many of a device's in down.alarms (the latest)
MAX_NOTE = 2000
TRANSITIONS = ("raised", "escalated", "acknowledged", "resolved", "cancelled", "cancel_requested", "updated")


# ---- people's actions -------------------------------------------------------------------

async def respond(runtime, fn):
    """A person's alarm action fn(tx) in the running server's writer, ahead of everything else
    waiting; returns fn's result once it is durable (long-polls woken, hooks run by the writer)."""
    return await runtime.writer.call(fn, URGENT)


# ---- the running service (one per server process / event loop) -------------------------

_services = {}      # event loop -> AlarmService


def current():
    """The AlarmService of the running event loop, or None (CLI, tests without a server)."""
    try:
        return _services.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


class AlarmService:
    """The alarm pipeline's long-lived parts in a server: escalation timer, supervision (battery
    scan, device-missing reconciliation); it wakes the core's webhook worker (runtime.webhooks).
    Care's service: FleetRuntime starts it in the app lifespan (fleet.care.capability)."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.settings = runtime.settings
        self.hub = runtime.hub
        self.tasks = []
        self.escalator = None
        self._later = []

    async def start(self):
        from fleet.care import supervision
        rt = self.runtime
        _services[rt.loop] = self
        self.escalator = escalation.Escalator(rt.reader, rt.writer)
        scan = supervision.BatteryScan(rt, self)
        self.tasks = [asyncio.create_task(self.escalator.run(), name="fleet-escalation"),
                      asyncio.create_task(scan.run(), name="fleet-battery-scan")]
        supervision.reconcile_missing(rt.reader, self)

    async def stop(self):
        _services.pop(self.runtime.loop, None)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []

    def later(self, fn, *args):
        """Run fn(tx, *args) in the writer soon (fire and forget; failures are logged by it).
        Per-device work that can come by the thousand (a district going offline at once) is
        gathered until the loop turns and submitted as BULK slices of BULK_ITEMS calls each."""
        self._later.append((fn, args))
        if len(self._later) == 1:
            self.runtime.loop.call_soon(self._submit_later)

    def _submit_later(self):
        work, self._later = self._later, []
        for part in slices(work, BULK_ITEMS):
            fut = self.runtime.writer.call(lambda tx, part=part: [fn(tx, *args) for fn, args in part], BULK)
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())

    def published(self, data, deliveries):
        """On the loop, after a transition committed: live stream, timers, webhook worker."""
        data["time"] = round(clock.now(), 3)
        self.hub.publish("alarms", "alarm", data)
        if data["transition"] == "raised" and self.escalator is not None:
            self.escalator.wake()
        if deliveries and self.runtime.webhooks is not None:
            self.runtime.webhooks.wake()


# ---- reading -------------------------------------------------------------------------

# An alarm's resident is the copy stored when it was raised (residents.at_raise).
_SELECT = "SELECT a.* FROM alarms a"
_COLUMNS = ("id", "device_id", "ref", "kind", "category", "state", "site", "raised_at", "received_at",
            "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "resolution_note",
            "cancelled_at", "cancel_requested_at", "battery_v", "days_left", "stage", "next_escalation_at",
            "updated_at")


def view(rec):
    """The stable JSON shape of an alarm (API, live stream, webhooks)."""
    out = {k: rec[k] for k in _COLUMNS}
    out["groups"] = json.loads(rec["groups"] or "[]")
    out["open"] = rec["state"] in OPEN_STATES
    out["resident"] = json.loads(rec["resident"]) if rec["resident"] else None
    return out


def _fetch(conn, alarm_id):
    cur = conn.execute(_SELECT + " WHERE a.id = ?", (alarm_id,))
    values = cur.fetchone()
    return None if values is None else dict(zip([d[0] for d in cur.description], values))


def _history(db, alarm_id):
    found = rows(db, "SELECT id, at, actor, action, detail FROM alarm_events WHERE alarm_id = ? ORDER BY id",
                 (alarm_id,))
    for entry in found:
        entry["detail"] = json.loads(entry["detail"]) if entry["detail"] else None
    return found


def get_alarm(db, alarm_id, history=True):
    rec = _fetch(db.conn, alarm_id)
    if rec is None:
        raise NotFound("no alarm %s" % alarm_id)
    out = view(rec)
    if history:
        out["history"] = _history(db, alarm_id)
    return out


def list_alarms(db, state=None, kind=None, category=None, device_id=None, site=None, since=None,
                open_only=False, limit=100, before_id=None):
    """Newest first; page with before_id. since: alarms received at or after this UTC ISO time."""
    where, params = [], []
    for column, value in (("a.state", state), ("a.kind", kind), ("a.category", category),
                          ("a.device_id", device_id), ("a.site", site)):
        if value is not None:
            where.append("%s = ?" % column)
            params.append(value)
    if since is not None:
        where.append("a.received_at >= ?")
        params.append(normalise_time(since))
    if open_only:
        where.append("a.state IN ('received', 'acknowledged')")
    if before_id is not None:
        where.append("a.id < ?")
        params.append(before_id)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY a.id DESC LIMIT ?"
    return [view(r) for r in rows(db, sql, params + [limit])]


def console_alarms(db, open_limit=5000, closed_limit=200):
    """What the console starts from, newest first: every open alarm (the oldest must never be cut
    off), and the latest of those closed within the last 24 hours."""
    recent = clock.iso(clock.now() - RECENT_S)
    found = rows(db, _SELECT + " WHERE a.state IN ('received', 'acknowledged') ORDER BY a.id LIMIT ?", (open_limit,))
    found += rows(db, _SELECT + " WHERE a.state IN ('resolved', 'cancelled') AND a.updated_at >= ? "
                  "ORDER BY a.id DESC LIMIT ?", (recent, closed_limit))
    return [view(r) for r in sorted(found, key=lambda r: -r["id"])]


def normalise_time(text):
    try:
        return clock.iso(clock.parse_iso(text))
    except (ValueError, TypeError, OverflowError, OSError):
        raise Invalid("since must be a UTC ISO-8601 time like 2024-05-01T12:00:00Z")


def has_open_alarm(db, device_id):
    """For OTA rollouts: a call button never updates while one of its alarms is open."""
    return row(db, "SELECT 1 AS x FROM alarms WHERE device_id = ? AND category = 'call' "
                   "AND state IN ('received', 'acknowledged') LIMIT 1", (device_id,)) is not None


UPDATE_QUIET_S = 600        # no update within 10 minutes of a call alarm


def update_guard(conn, device_id, role):
    """Update guard (fleet.domain.guards, asked by OTA): a call button never updates while one of
    its alarms is open, in the 10 minutes after one, or with a low battery."""
    if role != "call_button":
        return None
    if conn.execute("SELECT 1 FROM alarms WHERE device_id = ? AND state IN ('received', 'acknowledged') "
                    "AND kind = 'battery_low' LIMIT 1", (device_id,)).fetchone():
        return "low_battery"
    last = conn.execute("SELECT state, updated_at, received_at FROM alarms WHERE device_id = ? AND category = 'call' "
                        "ORDER BY id DESC LIMIT 1", (device_id,)).fetchone()
    if last is None:
        return None
    if last[0] in OPEN_STATES:
        return "alarm_open"
    if (last[1] or last[2]) >= clock.iso(clock.now() - UPDATE_QUIET_S):
        return "alarm_recent"
    return None


def downlink_states(db, device):
    """Downlink provider `alarms`: {ref: state} of this device's open alarms and of its latest
    DOWN_CLOSED_MAX closed within the last 24 hours. A button holds one alarm at a time, the newest
    it raised, so the latest closed ones are all it can be waiting for; the cap keeps `down` small
    for the board's heap however often the button was pressed that day."""
    recent = clock.iso(clock.now() - RECENT_S)
    return {ref: state for _id, ref, state in db.conn.execute(
        "SELECT id, ref, state FROM alarms WHERE device_id = ? AND ref IS NOT NULL "
        "AND state IN ('received', 'acknowledged') "
        "UNION ALL SELECT * FROM (SELECT id, ref, state FROM alarms WHERE device_id = ? AND ref IS NOT NULL "
        "AND state NOT IN ('received', 'acknowledged') AND updated_at >= ? ORDER BY id DESC LIMIT ?) "
        "ORDER BY id", (device.id, device.id, recent, DOWN_CLOSED_MAX))}


# ---- writing: helpers ----------------------------------------------------------------

def record(tx, alarm_id, action, actor, detail=None, at=None):
    """One history row (and its audit row: every transition is audited, never with resident data)."""
    encoded = json.dumps(detail, sort_keys=True) if detail is not None else None
    tx.conn.execute("INSERT INTO alarm_events (alarm_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
                    (alarm_id, at or tx.now_iso, str(actor), action, encoded))
    audit.record(tx.db, actor, "alarm." + action, "alarm:%d" % alarm_id, detail)


def announce(tx, transition, alarm_id, group=None, notify=True):
    """After this transaction commits: publish the transition live and (if notify) queue webhooks."""
    rec = _fetch(tx.conn, alarm_id)
    alarm = view(rec)
    deliveries = 0
    if notify:
        targets = {group} if group else set(alarm["groups"])
        deliveries = webhooks.enqueue(tx, "alarm." + transition, alarm, targets, group)
    data = {"transition": transition, "alarm_id": alarm["id"], "ref": alarm["ref"], "device_id": alarm["device_id"],
            "state": alarm["state"], "kind": alarm["kind"], "category": alarm["category"], "at": tx.now_iso,
            "group": group, "stage": alarm["stage"], "alarm": alarm}
    tx.after_commit(functools.partial(_published, data, deliveries))
    return alarm


def _published(data, deliveries):
    service = current()
    if service is not None:
        service.published(data, deliveries)


def _get_for_update(tx, alarm_id):
    rec = row(tx.db, "SELECT * FROM alarms WHERE id = ?", (alarm_id,))
    if rec is None:
        raise NotFound("no alarm %s" % alarm_id)
    return rec


def _closed_message(rec):
    if rec["state"] == "resolved":
        return "alarm %d was resolved by %s at %s" % (rec["id"], rec["resolved_by"], rec["resolved_at"])
    return "alarm %d was cancelled by the device at %s" % (rec["id"], rec["cancelled_at"])


def _update(tx, alarm_id, **values):
    values["updated_at"] = tx.now_iso
    sets = ", ".join("%s = ?" % k for k in values)
    tx.conn.execute("UPDATE alarms SET %s WHERE id = ?" % sets, (*values.values(), alarm_id))


def _insert(tx, **values):
    values.setdefault("updated_at", tx.now_iso)
    cur = tx.conn.execute("INSERT INTO alarms (%s) VALUES (%s)" % (", ".join(values), ", ".join("?" * len(values))),
                          tuple(values.values()))
    return cur.lastrowid


# ---- transitions from the device (ingest event handlers, writer thread) ----------------

def on_alarm(tx, device, event):
    """`alarm` event, stored for the first time: a new alarm, or the missing half of a cancelled one."""
    if device.role != "call_button":
        return      # alarms of other roles (bins, beacons) belong to their own modules
    data = event["data"]
    ref = data["ref"]
    actor = "device:" + device.id
    found = row(tx.db, "SELECT id, state, raised_at FROM alarms WHERE device_id = ? AND ref = ?", (device.id, ref))
    detail = {"event": event["id"], "seq": event["seq"], "stream": event["stream"]}
    if found is None:
        stages = escalation.stages_for(tx.conn, device.site)
        next_at = clock.iso(tx.now + stages[0]["after_s"]) if stages else None
        alarm_id = _insert(tx, device_id=device.id, ref=ref, kind=data.get("kind") or CALL, category=CALL,
                           state="received", site=device.site, **residents.at_raise(tx.conn, device.id),
                           event_id=event["id"], raised_at=event["at"], received_at=tx.now_iso,
                           battery_v=data.get("battery_v"), stage=0, groups=json.dumps([FIRST_GROUP]),
                           next_escalation_at=next_at)
        record(tx, alarm_id, "raised", actor, dict(detail, ref=ref), at=event["at"])
        record(tx, alarm_id, "received", FLEET, {"ref": ref})
        tx.mark_downlink_changed(device.id)
        announce(tx, "raised", alarm_id, FIRST_GROUP)
    elif found["raised_at"] is None:
        # The cancel came first (it was above a gap); the alarm completes the record, quietly.
        _update(tx, found["id"], raised_at=event["at"], event_id=event["id"], kind=data.get("kind") or CALL,
                battery_v=data.get("battery_v"))
        record(tx, found["id"], "raised_after_cancel", actor, dict(detail, ref=ref), at=event["at"])
        announce(tx, "updated", found["id"], notify=False)
    else:
        # The device's own retry of the same alarm as a new event: no second alarm, no notification.
        record(tx, found["id"], "repeated", actor, detail)


def on_alarm_cancel(tx, device, event):
    """`alarm_cancel` (long press: false alarm)."""
    if device.role != "call_button":
        return
    ref = event["data"]["ref"]
    actor = "device:" + device.id
    detail = {"event": event["id"], "seq": event["seq"], "stream": event["stream"]}
    found = row(tx.db, "SELECT * FROM alarms WHERE device_id = ? AND ref = ?", (device.id, ref))
    if found is None:
        # Stored before its alarm: the alarm exists from now on, already cancelled; when its own
        # event arrives it notifies no one.
        alarm_id = _insert(tx, device_id=device.id, ref=ref, kind=CALL, category=CALL, state="cancelled",
                           site=device.site, **residents.at_raise(tx.conn, device.id),
                           received_at=tx.now_iso, cancelled_at=tx.now_iso, stage=0, groups="[]")
        record(tx, alarm_id, "cancel_before_alarm", actor,
               dict(detail, ref=ref, message="cancel stored before its alarm: the alarm will notify no one"))
        tx.mark_downlink_changed(device.id)
        announce(tx, "cancelled", alarm_id, notify=False)
    elif found["state"] == "received":
        _update(tx, found["id"], state="cancelled", cancelled_at=tx.now_iso, next_escalation_at=None)
        record(tx, found["id"], "cancelled", actor, detail)
        tx.mark_downlink_changed(device.id)
        announce(tx, "cancelled", found["id"])
    elif found["state"] == "acknowledged":
        if found["cancel_requested_at"] is None:
            _update(tx, found["id"], cancel_requested_at=tx.now_iso)
        record(tx, found["id"], "cancel_after_ack", actor,
               dict(detail, message="cancel requested after acknowledgement by %s: the alarm stays acknowledged"
                    % found["acknowledged_by"]))
        announce(tx, "cancel_requested", found["id"])
    else:
        record(tx, found["id"], "cancel_ignored", actor, dict(detail, state=found["state"]))


# ---- transitions by people -------------------------------------------------------------

def acknowledge(tx, principal, alarm_id):
    """A caregiver takes the alarm: escalation stops, the button shows "answered"."""
    rec = _get_for_update(tx, alarm_id)
    if rec["state"] == "acknowledged":
        raise Conflict("alarm %d was already acknowledged by %s at %s"
                       % (alarm_id, rec["acknowledged_by"], rec["acknowledged_at"]), code="already_acknowledged")
    if rec["state"] in CLOSED_STATES:
        raise Conflict(_closed_message(rec) + ": it cannot be acknowledged", code="alarm_closed")
    _update(tx, alarm_id, state="acknowledged", acknowledged_at=tx.now_iso, acknowledged_by=principal.name,
            next_escalation_at=None)
    record(tx, alarm_id, "acknowledged", principal, {"device": rec["device_id"]})
    if rec["ref"] is not None:
        tx.mark_downlink_changed(rec["device_id"])
    return announce(tx, "acknowledged", alarm_id)


def resolve(tx, principal, alarm_id, note):
    """Close the alarm with a note saying what was done (required)."""
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise Invalid("a note saying what was done is required to resolve an alarm", code="note_required")
    if len(note) > MAX_NOTE:
        raise Invalid("the note must be at most %d characters" % MAX_NOTE, code="note_required")
    rec = _get_for_update(tx, alarm_id)
    if rec["state"] in CLOSED_STATES:
        raise Conflict(_closed_message(rec) + ": it cannot be resolved again", code="alarm_closed")
    _update(tx, alarm_id, state="resolved", resolved_at=tx.now_iso, resolved_by=principal.name,
            resolution_note=note, next_escalation_at=None)
    # The note may describe the resident's situation: it stays in the alarm, not in the audit log.
    record(tx, alarm_id, "resolved", principal, {"device": rec["device_id"]})
    if rec["ref"] is not None:
        tx.mark_downlink_changed(rec["device_id"])
    return announce(tx, "resolved", alarm_id)


def auto_resolve(tx, alarm_id, reason):
    """The fleet closes a supervision alarm whose cause went away."""
    _update(tx, alarm_id, state="resolved", resolved_at=tx.now_iso, resolved_by=FLEET, resolution_note=reason,
            next_escalation_at=None)
    record(tx, alarm_id, "auto_resolved", FLEET, {"reason": reason})
    return announce(tx, "resolved", alarm_id)


def raise_supervision(tx, device_id, kind, detail=None, battery_v=None, days_left=None):
    """A fleet-raised alarm (device_missing, battery_low) unless one of that kind is already open."""
    if open_supervision(tx.conn, device_id, kind) is not None:
        return None
    dev = tx.conn.execute("SELECT site FROM devices WHERE id = ?", (device_id,)).fetchone()
    if dev is None:
        return None
    alarm_id = _insert(tx, device_id=device_id, ref=None, kind=kind, category=SUPERVISION, state="received",
                       site=dev[0], **residents.at_raise(tx.conn, device_id),
                       raised_at=tx.now_iso, received_at=tx.now_iso, battery_v=battery_v, days_left=days_left,
                       stage=0, groups=json.dumps([FIRST_GROUP]))
    record(tx, alarm_id, "raised", FLEET, dict(detail or {}, kind=kind))
    announce(tx, "raised", alarm_id, FIRST_GROUP)
    return alarm_id


def raise_hazard(tx, device_id, kind, group=None, ref=None, detail=None):
    """An alarm another capability raises through the core's alarm sink (fleet.domain.alarmsink):
    a bin's fire. Once per (device, ref); escalated by the site's policy like a call."""
    if ref is not None and row(tx.db, "SELECT id FROM alarms WHERE device_id = ? AND ref = ?", (device_id, ref)):
        return None
    dev = tx.conn.execute("SELECT site FROM devices WHERE id = ?", (device_id,)).fetchone()
    if dev is None:
        return None
    stages = escalation.stages_for(tx.conn, dev[0])
    first = group or FIRST_GROUP
    alarm_id = _insert(tx, device_id=device_id, ref=ref, kind=kind, category=HAZARD, state="received", site=dev[0],
                       raised_at=tx.now_iso, received_at=tx.now_iso, stage=0, groups=json.dumps([first]),
                       next_escalation_at=clock.iso(tx.now + stages[0]["after_s"]) if stages else None)
    record(tx, alarm_id, "raised", "device:" + device_id, dict(detail or {}, kind=kind))
    announce(tx, "raised", alarm_id, first)
    return alarm_id


def open_supervision(conn, device_id, kind):
    """(id, battery_v) of the device's open supervision alarm of this kind, or None."""
    return conn.execute("SELECT id, battery_v FROM alarms WHERE device_id = ? AND kind = ? AND category = ? "
                        "AND state IN ('received', 'acknowledged') ORDER BY id LIMIT 1",
                        (device_id, kind, SUPERVISION)).fetchone()


register_alarm_sink(raise_hazard)
register_update_guard(update_guard)
register_event_handler("alarm", on_alarm, urgent=True)
register_event_handler("alarm_cancel", on_alarm_cancel, urgent=True)
# Replaces any placeholder: the states of this device's alarms, for the button's "answered" signal.
register_downlink_provider("alarms", downlink_states, roles=("call_button",), replace=True)
