"""Rollouts: one release to a target, in phases (a named canary set, then percentages), with a
success threshold, abort criteria, a rate limit, a per-device timeout and failure penalty,
maintenance windows, and pause / resume / abort by a person - every action audited and kept in
the rollout's history. What moves a rollout on is the engine (fleet/ota/engine.py); what the
devices report arrives as `ota` events (fleet/ota/progress.py). docs/ota.md "Rollouts".
"""

import json
import math

from fleet.core import clock
from fleet.domain import audit, tags as device_tags
from fleet.errors import Conflict, Invalid, NotFound
from fleet.ota import releases
from fleet.store.db import row, rows, write_tx

STATES = ("running", "waiting", "paused", "aborted", "completed")
# Where a device stands in a rollout: the engine's states, then the stages the device reports.
DEVICE_STATES = ("waiting", "offered", "deferred", "downloading", "verifying", "installed", "pending",
                 "succeeded", "failed", "rolled_back", "timed_out", "cancelled")
STARTED = ("downloading", "verifying", "installed", "pending")       # the device took the offer
OFFERED = ("offered", "deferred") + STARTED                           # down.update carries the offer
FAILURES = ("failed", "rolled_back", "timed_out")
TERMINAL = ("succeeded",) + FAILURES + ("cancelled",)

DEFAULT_PLAN = {
    "phases": [{"name": "canary", "count": 1}, {"name": "10%", "percent": 10}, {"name": "100%", "percent": 100}],
    "success": {"threshold": 95, "auto": True},
    "abort": {"failure_pct": 20, "min_devices": 1, "types": list(FAILURES)},
    "rate_per_min": 60,
    "device_timeout_s": 1800,
    "penalty": {"failures": 5, "window_s": 180, "block_s": 86400},
    "windows": [],
    "gate_s": 300,
}
TARGET_KEYS = ("roles", "boards", "sites", "versions", "devices", "tags")


def _int(value, what, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise Invalid("%s must be a whole number from %d to %d" % (what, lo, hi))
    return value


def check_plan(plan):
    """A complete plan from a partial one (missing parts from DEFAULT_PLAN); Invalid says what is wrong."""
    if not isinstance(plan, dict):
        raise Invalid("the plan must be an object")
    unknown = set(plan) - set(DEFAULT_PLAN)
    if unknown:
        raise Invalid("unknown plan fields: %s" % ", ".join(sorted(unknown)))
    out = json.loads(json.dumps(DEFAULT_PLAN))
    for key in ("success", "abort", "penalty"):
        if key in plan:
            if not isinstance(plan[key], dict) or set(plan[key]) - set(out[key]):
                raise Invalid("plan.%s takes %s" % (key, ", ".join(out[key])))
            out[key].update(plan[key])
    for key in ("phases", "rate_per_min", "device_timeout_s", "windows", "gate_s"):
        if key in plan:
            out[key] = plan[key]
    phases = out["phases"]
    if not isinstance(phases, list) or not phases:
        raise Invalid("a rollout needs at least one phase")
    last = 0
    for i, p in enumerate(phases):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"].strip():
            raise Invalid("phase %d needs a name" % (i + 1))
        kinds = [k for k in ("devices", "count", "percent") if k in p]
        if len(kinds) != 1:
            raise Invalid("phase %s: give one of devices (a list of ids), count or percent" % p["name"])
        if "devices" in p and not (isinstance(p["devices"], list) and p["devices"]
                                   and all(isinstance(d, str) for d in p["devices"])):
            raise Invalid("phase %s: devices is a list of device ids" % p["name"])
        if "count" in p:
            _int(p["count"], "phase %s: count" % p["name"], 1, 1_000_000)
        if "percent" in p:
            _int(p["percent"], "phase %s: percent" % p["name"], 1, 100)
            if p["percent"] < last:
                raise Invalid("phase %s: percentages only grow (they count the whole target)" % p["name"])
            last = p["percent"]
        if p.get("start_at") is not None:
            try:
                clock.parse_iso(p["start_at"])
            except (ValueError, TypeError):
                raise Invalid("phase %s: start_at must be a UTC time like 2026-12-24T02:00:00Z" % p["name"])
        unknown = set(p) - {"name", "devices", "count", "percent", "start_at"}
        if unknown:
            raise Invalid("phase %s: unknown fields %s" % (p["name"], ", ".join(sorted(unknown))))
    s, a, pen = out["success"], out["abort"], out["penalty"]
    _int(s["threshold"], "success.threshold (%)", 0, 100)
    if not isinstance(s["auto"], bool):
        raise Invalid("success.auto is true (go on by itself) or false (wait for a person)")
    _int(a["failure_pct"], "abort.failure_pct", 1, 100)
    _int(a["min_devices"], "abort.min_devices", 1, 1_000_000)
    if not isinstance(a["types"], list) or not a["types"] or set(a["types"]) - set(FAILURES):
        raise Invalid("abort.types is a list of %s" % ", ".join(FAILURES))
    _int(out["rate_per_min"], "rate_per_min", 1, 100_000)
    _int(out["device_timeout_s"], "device_timeout_s", 60, 7 * 86400)
    _int(out["gate_s"], "gate_s", 10, 3600)
    _int(pen["failures"], "penalty.failures", 1, 1000)
    _int(pen["window_s"], "penalty.window_s", 1, 30 * 86400)
    _int(pen["block_s"], "penalty.block_s", 0, 365 * 86400)
    from fleet.ota import windows
    out["windows"] = windows.check(out["windows"])
    return out


def check_target(target):
    """A device matches a target when its role, board, site, version and id are each among those
    listed (absent: any), and it has every one of the target's tags."""
    if not isinstance(target, dict) or set(target) - set(TARGET_KEYS):
        raise Invalid("the target takes %s (each a list; absent: any)" % ", ".join(TARGET_KEYS))
    out = {}
    for key in TARGET_KEYS:
        values = target.get(key)
        if values in (None, [], ["*"]):
            continue
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise Invalid("target.%s is a list of names" % key)
        if key == "tags":
            try:
                values = device_tags.check_tags(values)
            except Invalid as exc:
                raise Invalid("target.tags: %s" % exc.message, code=exc.code)
        out[key] = values
    return out


# ---- creating and controlling ---------------------------------------------------------------

def log(conn, rollout_id, actor, action, detail=None):
    conn.execute("INSERT INTO ota_rollout_log (rollout_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
                 (rollout_id, clock.iso(), str(actor), action, json.dumps(detail) if detail is not None else None))


def create(db, actor, release_id, target=None, plan=None, name=None):
    release = releases.get_release(db, release_id)
    target = check_target(target or {})
    plan = check_plan(plan or {})
    if release["expires_at"] <= clock.iso():
        raise Invalid("release %s has expired: build and sign a new one" % release_id)
    now = clock.iso()
    with write_tx(db):
        cur = db.conn.execute(
            "INSERT INTO ota_rollouts (release_id, name, state, phase, target, plan, created_at, created_by, "
            "updated_at) VALUES (?, ?, 'running', 0, ?, ?, ?, ?, ?)",
            (release_id, name or release_id, json.dumps(target), json.dumps(plan), now, str(actor), now))
        rid = cur.lastrowid
        log(db.conn, rid, actor, "started", {"release": release_id, "target": target})
        audit.record(db, actor, "ota.rollout.start", str(rid), {"release": release_id})
    return get_rollout(db, rid)


def control(db, actor, rollout_id, action, reason=None):
    """A person's action: pause, resume (also: go on to the next phase from waiting), abort.
    Returns the devices whose offer changed (their cursors are raised here)."""
    allowed = {"pause": ("running", "waiting"), "resume": ("paused", "waiting"), "abort": ("running", "waiting", "paused")}
    if action not in allowed:
        raise Invalid("action must be pause, resume or abort")
    with write_tx(db):
        r = row(db, "SELECT state, phase, plan FROM ota_rollouts WHERE id = ?", (rollout_id,))
        if r is None:
            raise NotFound("no rollout %s" % rollout_id)
        if r["state"] not in allowed[action]:
            raise Conflict("rollout %s is %s: it cannot be %s" % (rollout_id, r["state"], {
                "pause": "paused", "resume": "resumed", "abort": "aborted"}[action]))
        now = clock.iso()
        state = {"pause": "paused", "resume": "running", "abort": "aborted"}[action]
        values = {"state": state, "reason": reason, "updated_at": now}
        if action == "resume" and r["state"] == "waiting":      # approved: the next phase starts
            values["phase"] = r["phase"] + 1
            values["phase_started_at"] = None
        if action == "abort":
            values["finished_at"] = now
        db.conn.execute("UPDATE ota_rollouts SET %s WHERE id = ?" % ", ".join("%s = ?" % k for k in values),
                        list(values.values()) + [rollout_id])
        changed = [d for (d,) in db.conn.execute(
            "SELECT device_id FROM ota_rollout_devices WHERE rollout_id = ? AND state IN ('offered', 'deferred')",
            (rollout_id,))]
        if action == "abort":
            db.conn.execute("UPDATE ota_rollout_devices SET state = 'cancelled', finished_at = ?, updated_at = ? "
                            "WHERE rollout_id = ? AND state IN ('waiting', 'offered', 'deferred')", (now, now, rollout_id))
        if changed:
            from fleet.domain.downlink import raise_cursors
            raise_cursors(db.conn, changed)
        log(db.conn, rollout_id, actor, action, {"reason": reason} if reason else None)
        audit.record(db, actor, "ota.rollout.%s" % action, str(rollout_id), {"reason": reason} if reason else None)
    return changed


# ---- reading ----------------------------------------------------------------------------------

def _decorate(r):
    r["target"] = json.loads(r["target"])
    r["plan"] = json.loads(r["plan"])
    return r


def phase_counts(conn, rollout_id):
    """{phase: {state: n}}"""
    out = {}
    for phase, state, n in conn.execute("SELECT phase, state, count(*) FROM ota_rollout_devices WHERE rollout_id = ? "
                                        "GROUP BY phase, state", (rollout_id,)):
        out.setdefault(phase, {})[state] = n
    return out


def summary(conn, r):
    """Per phase: name, kind, and counts (succeeded, failed, in progress, waiting) for pages and SSE."""
    counts = phase_counts(conn, r["id"])
    phases = []
    for i, p in enumerate(r["plan"]["phases"]):
        c = counts.get(i, {})
        phases.append({"index": i, "name": p["name"], "start_at": p.get("start_at"),
                       "size": p.get("percent") and "%d%%" % p["percent"] or p.get("count") or len(p.get("devices", [])),
                       "total": sum(c.values()), "succeeded": c.get("succeeded", 0),
                       "failed": sum(c.get(s, 0) for s in FAILURES), "in_progress": sum(c.get(s, 0) for s in OFFERED),
                       "waiting": c.get("waiting", 0), "cancelled": c.get("cancelled", 0), "states": c})
    return phases


def get_rollout(db, rollout_id, devices=True, history=True):
    r = row(db, "SELECT * FROM ota_rollouts WHERE id = ?", (rollout_id,))
    if r is None:
        raise NotFound("no rollout %s" % rollout_id)
    r = _decorate(r)
    r["phases"] = summary(db.conn, r)
    if devices:
        r["devices"] = rows(db, "SELECT device_id, phase, state, reason, progress, from_version, offered_at, updated_at, "
                                "finished_at FROM ota_rollout_devices WHERE rollout_id = ? ORDER BY phase, device_id",
                            (rollout_id,))
    if history:
        r["history"] = rows(db, "SELECT id, at, actor, action, detail FROM ota_rollout_log WHERE rollout_id = ? "
                                "ORDER BY id", (rollout_id,))
        for h in r["history"]:
            h["detail"] = json.loads(h["detail"]) if h["detail"] else None
    return r


def list_rollouts(db, limit=100):
    out = []
    for r in rows(db, "SELECT * FROM ota_rollouts ORDER BY id DESC LIMIT ?", (limit,)):
        r = _decorate(r)
        r["phases"] = summary(db.conn, r)
        out.append(r)
    return out


def wanted(phase, population, assigned):
    """How many more devices a percentage phase takes: its share of the whole target, less those
    earlier phases took."""
    return max(0, math.ceil(phase["percent"] * population / 100.0) - assigned)
