"""Work orders: a fault on an asset, from report to repaired, tracked to the end.

    device fault / citizen report ──▶ new ──▶ assigned ──▶ in_progress ──▶ resolved ──▶ closed
                                       │  (routing:    (a technician     (note, photo)   (checked)
                                       │   type+area)   starts it)
                                       └──────────────────────────────▶ rejected (a reason the citizen reads)

- One open work order per asset (new, assigned, in_progress): a second report or a repeated
  device fault joins it (history "joined"), so ten citizens reporting one dark lamp make one job.
- Assignment: facility_routes maps (asset type, area) to a team, '*' matching any; the most
  specific route wins. A technician may act only on work orders of their teams (or assigned to
  them); admins on all (Forbidden otherwise: "another team's work order").
- SLA: due_at = opened_at + the category's resolve_h (fleet.facilities.services). SlaTimer
  (the capability's service) wakes at next_sla_at: at due_at the order is overdue and escalates
  to its team's `escalate_to` group, at 1.5 x the time to a second stage ("managers"); history,
  audit and the live stream (topic "workorders") say so. Resolving or rejecting stops the clock.
- A technician's update carries an idempotency key: a phone replaying its offline queue applies
  each update once (work_order_events.idem_key is unique; a replay answers the order as it is).

Transitions run in the group-commit writer (tx: fleet.domain.writer.WriteTx), like the event
handlers that open work orders from device faults; each writes a history row and an audit row.
"""

import asyncio
import datetime
import json
import logging
import math
import re
import statistics

from fleet.core import clock
from fleet.core.waiting import within
from fleet.domain import audit, webhooks
from fleet.errors import Conflict, Forbidden, Invalid, NotFound
from fleet.facilities import services
from fleet.store.db import row, rows

log = logging.getLogger("fleet.facilities")

OPEN = ("new", "assigned", "in_progress")
STATES = OPEN + ("resolved", "closed", "rejected")
DONE = ("resolved", "closed", "rejected")
ACTIONS = ("take", "start", "resolve", "close", "reject", "note", "assign")
MAX_NOTE = 2000
TEAM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
IDEM = re.compile(r"^[A-Za-z0-9_.:-]{8,80}$")
FLEET = "fleet"
SECOND_STAGE = 1.5          # x resolve_h: the second escalation
IDLE_S = 3600.0

_COLUMNS = ("id", "asset_id", "category", "source", "state", "team", "assignee", "opened_at", "assigned_at",
            "started_at", "resolved_at", "closed_at", "rejected_at", "resolution_note", "resolution_photo_id",
            "reject_reason", "due_at", "sla_stage", "updated_at")


def view(rec):
    out = {k: rec[k] for k in _COLUMNS}
    out["open"] = rec["state"] in OPEN
    out["overdue"] = rec["state"] in OPEN and rec["due_at"] is not None and rec["due_at"] < clock.iso()
    for k in ("code", "type", "name", "address", "lat", "lon", "area"):
        if k in rec:
            out["asset_" + k] = rec[k]
    out["reports"] = rec.get("reports", 0)
    return out


_SELECT = ("SELECT w.*, a.code, a.type, a.name, a.address, a.lat, a.lon, a.area, "
           "(SELECT count(*) FROM service_requests s WHERE s.work_order_id = w.id) AS reports "
           "FROM work_orders w LEFT JOIN assets a ON a.id = w.asset_id")


def get_work_order(db, wo_id, history=True):
    rec = row(db, _SELECT + " WHERE w.id = ?", (wo_id,))
    if rec is None:
        raise NotFound("no work order %s" % wo_id)
    out = view(rec)
    if history:
        out["history"] = [dict(h, detail=json.loads(h["detail"]) if h["detail"] else None) for h in rows(
            db, "SELECT id, at, actor, action, detail FROM work_order_events WHERE work_order_id = ? ORDER BY id",
            (wo_id,))]
    return out


def list_work_orders(db, state=None, team=None, open_only=False, asset_id=None, limit=200, teams_of=None):
    where, params = [], []
    for column, value in (("w.state", state), ("w.team", team), ("w.asset_id", asset_id)):
        if value is not None:
            where.append("%s = ?" % column)
            params.append(value)
    if open_only:
        where.append("w.state IN ('new', 'assigned', 'in_progress')")
    if teams_of is not None:            # a technician's own: their teams' orders and those assigned to them
        where.append("(w.team IN (SELECT team FROM facility_team_members WHERE user_id = ?) OR w.assignee = ?)")
        params += [teams_of.user_id, teams_of.name]
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY w.id DESC LIMIT ?"
    return [view(r) for r in rows(db, sql, params + [limit])]


def open_for_asset(conn, asset_id):
    return conn.execute("SELECT id FROM work_orders WHERE asset_id = ? AND state IN ('new', 'assigned', "
                        "'in_progress')", (asset_id,)).fetchone()


# ---- teams and routing --------------------------------------------------------------------

def check_team(name):
    if not isinstance(name, str) or not TEAM.match(name):
        raise Invalid("a team name is 1-32 lower-case letters, digits, '.', '_' or '-'")
    return name


def route(conn, asset_type, area):
    """The team for an asset: the most specific of (type, area), (type, *), (*, area), (*, *)."""
    for t, a in ((asset_type, area), (asset_type, "*"), ("*", area), ("*", "*")):
        if a is None:
            continue
        found = conn.execute("SELECT team FROM facility_routes WHERE asset_type = ? AND area = ?", (t, a)).fetchone()
        if found:
            return found[0]
    return None


def teams_of(conn, user_id):
    return [r[0] for r in conn.execute("SELECT team FROM facility_team_members WHERE user_id = ? ORDER BY team",
                                       (user_id,))]


def save_team(tx, actor, name, title=None, escalate_to=None, members=()):
    check_team(name)
    if escalate_to is not None:
        check_team(escalate_to)
    ids = []
    for username in members:
        found = tx.conn.execute("SELECT id, role FROM users WHERE username = ?", (username,)).fetchone()
        if found is None:
            raise NotFound("no user %r" % username)
        ids.append(found[0])
    tx.conn.execute("INSERT INTO facility_teams (name, title, escalate_to, created_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET title = excluded.title, escalate_to = excluded.escalate_to",
                    (name, title, escalate_to, tx.now_iso))
    tx.conn.execute("DELETE FROM facility_team_members WHERE team = ?", (name,))
    tx.conn.executemany("INSERT INTO facility_team_members (team, user_id) VALUES (?, ?)", [(name, i) for i in ids])
    audit.record(tx.db, actor, "team.save", "team:" + name, {"members": sorted(members), "escalate_to": escalate_to})
    return {"name": name, "title": title, "escalate_to": escalate_to, "members": sorted(members)}


def set_route(tx, actor, asset_type, area, team):
    from fleet.facilities.assets import TYPES
    if asset_type != "*" and asset_type not in TYPES:
        raise Invalid("asset_type must be one of %s or '*'" % ", ".join(TYPES))
    if not isinstance(area, str) or not 1 <= len(area) <= 64:
        raise Invalid("area must be 1-64 characters ('*' for any)")
    if tx.conn.execute("SELECT 1 FROM facility_teams WHERE name = ?", (team,)).fetchone() is None:
        raise NotFound("no team %r" % team)
    tx.conn.execute("INSERT INTO facility_routes (asset_type, area, team) VALUES (?, ?, ?) "
                    "ON CONFLICT (asset_type, area) DO UPDATE SET team = excluded.team", (asset_type, area, team))
    audit.record(tx.db, actor, "route.set", "%s/%s" % (asset_type, area), {"team": team})
    return {"asset_type": asset_type, "area": area, "team": team}


def list_teams(db):
    out = []
    for t in rows(db, "SELECT name, title, escalate_to FROM facility_teams ORDER BY name"):
        t["members"] = [r[0] for r in db.conn.execute(
            "SELECT u.username FROM facility_team_members m JOIN users u ON u.id = m.user_id WHERE m.team = ? "
            "ORDER BY u.username", (t["name"],))]
        out.append(t)
    return out


def list_routes(db):
    return rows(db, "SELECT asset_type, area, team FROM facility_routes ORDER BY asset_type, area")


# ---- writing ---------------------------------------------------------------------------

def record(tx, wo_id, action, actor, detail=None, idem_key=None):
    tx.conn.execute("INSERT INTO work_order_events (work_order_id, at, actor, action, detail, idem_key) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (wo_id, tx.now_iso, str(actor), action,
                                                  json.dumps(detail, sort_keys=True) if detail else None, idem_key))
    audit.record(tx.db, actor, "workorder." + action, "workorder:%d" % wo_id, detail)


def _update(tx, wo_id, **values):
    values["updated_at"] = tx.now_iso
    tx.conn.execute("UPDATE work_orders SET %s WHERE id = ?" % ", ".join("%s = ?" % k for k in values),
                    (*values.values(), wo_id))


# Every transition is a webhook event of the core's outbox (signed, retried, recorded):
# "workorder.<transition>" with {"transition", "work_order"}; a webhook's groups filter hears of
# the orders of its team, and of those escalated to it from then on (as an alarm's groups).
TRANSITIONS = ("opened", "joined", "sensor_restored", "escalated") + ACTIONS
webhooks.register_events(*("workorder." + t for t in TRANSITIONS))


def _announce(tx, wo_id, transition):
    rec = row(tx.db, _SELECT + " WHERE w.id = ?", (wo_id,))
    data = {"transition": transition, "work_order": view(rec)}
    if webhooks.enqueue_event(tx, "workorder." + transition, data, _groups(tx, rec)):
        tx.after_commit(_wake_webhooks)
    hub = _hub[0]
    if hub is not None:
        tx.after_commit(lambda: hub.publish("workorders", "workorder", data))


def _groups(tx, rec):
    """The responder groups a work order concerns: its team, and those it escalated to."""
    groups = [rec["team"]] if rec["team"] else []
    if rec["sla_stage"]:
        found = tx.conn.execute("SELECT escalate_to FROM facility_teams WHERE name = ?", (rec["team"],)).fetchone()
        groups.append((found and found[0]) or "supervisors")
    if rec["sla_stage"] >= 2:
        groups.append("managers")
    return groups


def _wake_webhooks():
    runtime = _runtime[0]
    if runtime is not None and runtime.webhooks is not None:
        runtime.loop.call_soon_threadsafe(runtime.webhooks.wake)


_hub = [None]          # the running server's live hub (set by the capability's service)
_runtime = [None]      # the running server (its webhook worker), likewise


def open_or_join(tx, asset, category, source, detail):
    """The open work order of this asset, joined (history), or a new one routed to its team.
    asset: (id, type, area) or None for a report with no asset. Returns (work_order_id, joined)."""
    if asset is not None:
        found = open_for_asset(tx.conn, asset[0])
        if found is not None:
            record(tx, found[0], "joined", FLEET, dict(detail, category=category, source=source))
            _update(tx, found[0])
            _announce(tx, found[0], "joined")
            return found[0], True
    due = clock.iso(tx.now + services.resolve_hours(category) * 3600)
    cur = tx.conn.execute(
        "INSERT INTO work_orders (asset_id, category, source, state, opened_at, due_at, sla_stage, next_sla_at, "
        "updated_at) VALUES (?, ?, ?, 'new', ?, ?, 0, ?, ?)",
        (asset[0] if asset else None, category, source, tx.now_iso, due, due, tx.now_iso))
    wo_id = cur.lastrowid
    record(tx, wo_id, "opened", FLEET, dict(detail, category=category, source=source, due_at=due))
    team = route(tx.conn, asset[1], asset[2] or "*") if asset else route(tx.conn, "*", "*")
    if team is not None:
        _update(tx, wo_id, state="assigned", team=team, assigned_at=tx.now_iso)
        record(tx, wo_id, "assigned", FLEET, {"team": team, "by": "routing"})
    _announce(tx, wo_id, "opened")
    return wo_id, False


def _may_act(tx, principal, rec):
    if principal.role == "admin":
        return
    if rec["assignee"] == principal.name:
        return
    if rec["team"] and tx.conn.execute("SELECT 1 FROM facility_team_members WHERE team = ? AND user_id = ?",
                                       (rec["team"], principal.user_id)).fetchone():
        return
    raise Forbidden("work order %d belongs to team %s, not to one of yours" % (rec["id"], rec["team"] or "(none)"),
                    code="other_team")


def _text(value, what, required):
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise Invalid("%s is required" % what, code="%s_required" % what.split()[0])
    if len(value) > MAX_NOTE:
        raise Invalid("%s must be at most %d characters" % (what, MAX_NOTE))
    return value or None


def act(tx, principal, wo_id, action, note=None, reason=None, team=None, assignee=None, photo=None,
        idem_key=None):
    """A person's update of a work order (one of ACTIONS). photo: photos.reencode()'s result, for resolve.
    With idem_key, a replay of an update already applied changes nothing and answers the order."""
    if idem_key is not None:
        if not isinstance(idem_key, str) or not IDEM.match(idem_key):
            raise Invalid("idem_key must be 8-80 letters, digits, '_', '.', ':' or '-'")
        seen = tx.conn.execute("SELECT work_order_id FROM work_order_events WHERE idem_key = ?", (idem_key,)).fetchone()
        if seen is not None:
            if seen[0] != wo_id:
                raise Conflict("idem_key %s was used for work order %d" % (idem_key, seen[0]), code="idem_key_reused")
            return dict(get_work_order(tx.db, wo_id, history=False), replayed=True)
    if action not in ACTIONS:
        raise Invalid("action must be one of %s" % ", ".join(ACTIONS))
    rec = row(tx.db, "SELECT * FROM work_orders WHERE id = ?", (wo_id,))
    if rec is None:
        raise NotFound("no work order %s" % wo_id)
    state = rec["state"]
    if action == "assign":
        if principal.role != "admin":
            raise Forbidden("only an admin assigns work orders to another team or person", code="forbidden")
    else:
        _may_act(tx, principal, rec)
    if action == "close" and state == "closed":
        raise Conflict("work order %d was already closed at %s" % (wo_id, rec["closed_at"]), code="already_closed")
    if action != "note" and state in ("closed", "rejected"):
        raise Conflict("work order %d is %s: nothing more can change" % (wo_id, state), code="work_order_done")
    detail = {}
    if action == "take":
        if state not in OPEN:
            raise Conflict("work order %d is %s" % (wo_id, state), code="bad_transition")
        _update(tx, wo_id, assignee=principal.name, state="assigned" if state == "new" else state,
                assigned_at=rec["assigned_at"] or tx.now_iso)
        detail = {"assignee": principal.name}
    elif action == "assign":
        values = {}
        if team is not None:
            check_team(team)
            if tx.conn.execute("SELECT 1 FROM facility_teams WHERE name = ?", (team,)).fetchone() is None:
                raise NotFound("no team %r" % team)
            values["team"] = team
        if assignee is not None:
            if tx.conn.execute("SELECT 1 FROM users WHERE username = ?", (assignee,)).fetchone() is None:
                raise NotFound("no user %r" % assignee)
            values["assignee"] = assignee
        if not values:
            raise Invalid("assign needs a team or an assignee")
        if state not in OPEN:
            raise Conflict("work order %d is %s" % (wo_id, state), code="bad_transition")
        _update(tx, wo_id, state="assigned" if state == "new" else state, assigned_at=rec["assigned_at"] or tx.now_iso,
                **values)
        detail = values
    elif action == "start":
        if state not in ("new", "assigned"):
            raise Conflict("work order %d is %s: only a new or assigned one can be started" % (wo_id, state),
                           code="bad_transition")
        _update(tx, wo_id, state="in_progress", started_at=tx.now_iso, assignee=rec["assignee"] or principal.name,
                assigned_at=rec["assigned_at"] or tx.now_iso)
    elif action == "resolve":
        note = _text(note, "note saying what was done", True)
        if state not in OPEN:
            raise Conflict("work order %d is %s: it cannot be resolved" % (wo_id, state), code="bad_transition")
        photo_id = None
        if photo is not None:
            from fleet.facilities import photos
            photo_id = photos.store(tx, "work_order", wo_id, photo, principal, tx.now_iso)
        _update(tx, wo_id, state="resolved", resolved_at=tx.now_iso, resolution_note=note,
                resolution_photo_id=photo_id, next_sla_at=None, started_at=rec["started_at"] or tx.now_iso,
                assignee=rec["assignee"] or principal.name)
        detail = {"photo": photo_id} if photo_id else {}
    elif action == "close":
        if state != "resolved":
            raise Conflict("work order %d is %s: only a resolved one can be closed" % (wo_id, state),
                           code="bad_transition")
        _update(tx, wo_id, state="closed", closed_at=tx.now_iso)
    elif action == "reject":
        reason = _text(reason, "reason the reporter will read", True)
        if state not in OPEN:
            raise Conflict("work order %d is %s: it cannot be rejected" % (wo_id, state), code="bad_transition")
        _update(tx, wo_id, state="rejected", rejected_at=tx.now_iso, reject_reason=reason, next_sla_at=None)
    elif action == "note":
        detail = {"note": _text(note, "note", True)}
    record(tx, wo_id, action, principal, detail, idem_key)
    _announce(tx, wo_id, action)
    return get_work_order(tx.db, wo_id, history=False)


# ---- device faults (ingest event handlers, writer thread) -----------------------------------

def on_fault(tx, device, event):
    """A beacon's fault event (cover_open, lamp_fault, day_burning): the asset's fault, a work order."""
    if device.role != "beacon":
        return
    asset = tx.conn.execute("SELECT id, type, area, fault FROM assets WHERE device_id = ?", (device.id,)).fetchone()
    if asset is None:
        return          # a beacon not attached to an asset yet: its event is stored, nothing to repair
    kind = event["type"]
    tx.conn.execute("UPDATE assets SET fault = ?, fault_since = ?, updated_at = ? WHERE id = ?",
                    (kind, event["at"], tx.now_iso, asset[0]))
    open_or_join(tx, asset[:3], services.FAULTS[kind], "device",
                 {"event": event["id"], "fault": kind, "device": device.id, "data": event["data"]})


def on_restore(tx, device, event):
    """cover_closed / lamp_ok: the sensor says the fault went away. The work order stays open
    until a technician resolves it (a cover put back may still be broken); its history says so."""
    if device.role != "beacon":
        return
    asset = tx.conn.execute("SELECT id, fault FROM assets WHERE device_id = ?", (device.id,)).fetchone()
    if asset is None or asset[1] not in services.RESTORES[event["type"]]:
        return
    tx.conn.execute("UPDATE assets SET fault = NULL, fault_since = NULL, updated_at = ? WHERE id = ?",
                    (tx.now_iso, asset[0]))
    found = open_for_asset(tx.conn, asset[0])
    if found is not None:
        record(tx, found[0], "sensor_restored", "device:" + device.id, {"event": event["id"], "was": asset[1]})
        _announce(tx, found[0], "sensor_restored")


# ---- SLA timers --------------------------------------------------------------------------

def escalate_due(tx, limit=25):
    """Writer job: work orders whose SLA time came: overdue (stage 1) and then stage 2."""
    due = tx.conn.execute("SELECT w.id, w.category, w.opened_at, w.sla_stage, w.team, t.escalate_to FROM work_orders w "
                          "LEFT JOIN facility_teams t ON t.name = w.team WHERE w.next_sla_at IS NOT NULL AND "
                          "w.next_sla_at <= ? ORDER BY w.next_sla_at LIMIT ?", (tx.now_iso, limit)).fetchall()
    for wo_id, category, opened_at, stage, team, escalate_to in due:
        hours = services.resolve_hours(category)
        if stage == 0:
            nxt = clock.iso(clock.parse_iso(opened_at) + hours * 3600 * SECOND_STAGE)
            group = escalate_to or "supervisors"
        else:
            nxt, group = None, "managers"
        _update(tx, wo_id, sla_stage=stage + 1, next_sla_at=nxt)
        record(tx, wo_id, "overdue" if stage == 0 else "escalated", FLEET,
               {"stage": stage + 1, "group": group, "resolve_h": hours})
        _announce(tx, wo_id, "escalated")
    return len(due)


class SlaTimer:
    """The capability's service (in the app lifespan): the SLA task - sleep until the next SLA
    time, escalate, repeat - and what the public report path needs (the per-address limit, the
    sender hash)."""

    def __init__(self, runtime):
        from fleet.facilities import abuse
        self.runtime = runtime
        self._wake = asyncio.Event()
        self._task = None
        settings = runtime.settings
        self.limit = abuse.ReportLimit(settings.report_burst, settings.report_per_hour)
        self.client_hash = abuse.ClientHash(settings.key_path)

    async def start(self):
        from fleet.facilities import beacons
        _hub[0] = self.runtime.hub
        _runtime[0] = self.runtime
        beacons._public_url[0] = self.runtime.settings.public_url
        self._task = asyncio.create_task(self.run(), name="fleet-facilities-sla")

    async def stop(self):
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        _hub[0] = None
        _runtime[0] = None

    def wake(self):
        self._wake.set()

    async def run(self):
        reader, writer = self.runtime.reader, self.runtime.writer
        while True:
            try:
                due = reader.conn.execute("SELECT min(next_sla_at) FROM work_orders WHERE next_sla_at IS NOT NULL"
                                          ).fetchone()[0]
                delay = IDLE_S if due is None else clock.parse_iso(due) - clock.now()
                if delay > 0:
                    await within(self._wake.wait(), min(delay, 60.0))
                    self._wake.clear()
                    continue
                await writer.call(escalate_due)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SLA pass failed")
                await asyncio.sleep(1.0)


# ---- handling tracking ------------------------------------------------------------------

def _week(iso):
    y, w, _ = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).isocalendar()
    return "%d-W%02d" % (y, w)


def _percentile(values, p):
    """The nearest-rank percentile."""
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, math.ceil(p / 100.0 * len(values)) - 1))     # nearest rank
    return values[k]


def tracking(db, since=None):
    """Per ISO week and category: reports in, work orders opened/closed, median and p90 hours to
    resolve (of those resolved that week), and how many are overdue now. Newest week first."""
    since = since or clock.iso(clock.now() - 26 * 7 * 86400)
    table = {}

    def cell(week, category):
        return table.setdefault((week, category), {"week": week, "category": category, "reports": 0, "opened": 0,
                                                   "closed": 0, "rejected": 0, "hours": [], "overdue": 0})
    for at, code in db.conn.execute("SELECT requested_at, service_code FROM service_requests WHERE requested_at >= ?",
                                    (since,)):
        cell(_week(at), code)["reports"] += 1
    now = clock.iso()
    for opened, resolved, closed, rejected, category, state, due in db.conn.execute(
            "SELECT opened_at, resolved_at, closed_at, rejected_at, category, state, due_at FROM work_orders "
            "WHERE opened_at >= ? OR resolved_at >= ? OR state IN ('new', 'assigned', 'in_progress')", (since, since)):
        if opened >= since:
            cell(_week(opened), category)["opened"] += 1
        if resolved and resolved >= since:
            c = cell(_week(resolved), category)
            c["closed"] += 1
            c["hours"].append((clock.parse_iso(resolved) - clock.parse_iso(opened)) / 3600.0)
        if rejected and rejected >= since:
            cell(_week(rejected), category)["rejected"] += 1
        if state in OPEN and due and due < now:
            cell(_week(now), category)["overdue"] += 1
    out = []
    for key in sorted(table, key=lambda k: (k[0], k[1]), reverse=True):
        c = table[key]
        hours = c.pop("hours")
        c["median_h"] = round(statistics.median(hours), 2) if hours else None
        c["p90_h"] = round(_percentile(hours, 90), 2) if hours else None
        out.append(c)
    return out


def overdue(db, limit=500):
    return [view(r) for r in rows(db, _SELECT + " WHERE w.state IN ('new', 'assigned', 'in_progress') AND "
                                  "w.due_at < ? ORDER BY w.due_at LIMIT ?", (clock.iso(), limit))]


TRACKING_COLUMNS = ("week", "category", "reports", "opened", "closed", "rejected", "median_h", "p90_h", "overdue")


def tracking_csv(db, since=None):
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TRACKING_COLUMNS)
    for c in tracking(db, since):
        writer.writerow(["" if c[k] is None else c[k] for k in TRACKING_COLUMNS])
    return out.getvalue()


class LocalTx:
    """The writer's transaction interface over a plain write_tx, for the CLI (no server, no writer)."""

    def __init__(self, db):
        self.db = db
        self.conn = db.conn
        self.now = clock.now()
        self.now_iso = clock.iso(self.now)

    def after_commit(self, fn):
        pass                # nothing is live in a CLI process

    def mark_downlink_changed(self, device_id):
        pass
