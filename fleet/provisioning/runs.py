"""Provisioning runs: record what the technician's tool reports, and read it back as the
technician needs it - their runs, the boards awaiting their first hello, the failures.

A run is one board on one port: identified (MAC), flashed, started, and - when the tool enrolled
it - the device's first hello, or where it stopped (stage, error code, the fix the tool printed).
Technicians see their own runs; `provisioning.all` (admins) sees everyone's. Nothing secret is
stored: the tool sends no Wi-Fi credentials and no enrollment token, only the token's id.

A board awaits its first hello when its latest run flashed and started it but the tool gave up
waiting for the hello (stage `hello`), and the fleet has heard nothing from it since. Why it
waits is read from the core's tables at each request: its enrollment token is unused (it has
not reached the fleet), expired or revoked (it never will: enroll it again), or it enrolled but
has not said hello. A failure is resolved once the same board was provisioned later or said
hello after it.
"""

import json

from fleet.core import clock
from fleet.core.permissions import allowed
from fleet.errors import Invalid, NotFound
from fleet.store.db import row, rows, write_tx

FIELDS = ("port", "mac", "hw_id", "role", "board", "site", "firmware", "device_id", "token_id", "ok", "code",
          "stage", "error", "fix", "seconds")
WHY = ("token_unused", "token_expired", "token_revoked", "enrolled_silent")
MAX_AGE_S = 7 * 24 * 3600           # a run's start may be this far in the past (a batch resumed days later)
MAX_AHEAD_S = 3600                  # ... or this far ahead (a laptop's clock); more is refused


def record(db, who, run):
    """Store one run (fields checked by the API's model); returns it as list_runs() shows it."""
    now = clock.now()
    try:
        started = clock.parse_iso(run["started_at"]) if run.get("started_at") else now
    except ValueError:
        started = None
    if started is None or not now - MAX_AGE_S <= started <= now + MAX_AHEAD_S:
        raise Invalid("started_at must be an ISO time within the last 7 days (the laptop's clock: "
                      "`provision doctor` checks it)")
    values = {k: run.get(k) for k in FIELDS}
    values["ok"] = 1 if run.get("ok") else 0
    values["stages"] = json.dumps(run["stages"], sort_keys=True) if run.get("stages") else None
    values.update(user_id=who.user_id, technician=who.name, received_at=clock.iso(), started_at=clock.iso(started))
    with write_tx(db):
        cur = db.conn.execute("INSERT INTO provisioning_runs (%s) VALUES (%s)" % (
            ", ".join(values), ", ".join("?" * len(values))), tuple(values.values()))
        run_id = cur.lastrowid
    return get_run(db, who, run_id)


_SELECT = """
SELECT r.*, d.id AS dev_id, d.last_hello AS dev_last_hello,
       t.used_at AS tok_used_at, t.expires_at AS tok_expires_at, t.revoked_at AS tok_revoked_at,
       EXISTS (SELECT 1 FROM provisioning_runs l WHERE l.hw_id = r.hw_id AND l.id > r.id AND l.ok = 1) AS redone
FROM provisioning_runs r
LEFT JOIN devices d ON d.hw_id = r.hw_id
LEFT JOIN enrollment_tokens t ON t.id = r.token_id
"""


def _scope(who, technician=None):
    """(SQL condition, params) of the runs `who` may see, narrowed to one technician if asked."""
    if not allowed(who.role, "provisioning.all"):
        return "r.user_id IS ?", [who.user_id]
    if technician:
        return "r.technician = ?", [technician]
    return "1", []


def _view(r, now_iso):
    hello = bool(r["dev_last_hello"]) and r["dev_last_hello"] >= r["started_at"]
    out = {k: r[k] for k in ("id", "technician", "received_at", "started_at") + FIELDS}
    out["ok"] = bool(r["ok"])
    out["stages"] = json.loads(r["stages"]) if r["stages"] else {}
    out["device_id"] = r["device_id"] or r["dev_id"]
    out["hello_since"] = hello
    out["resolved"] = out["ok"] or hello or bool(r["redone"])
    out["why"] = None
    if not out["ok"] and not hello:
        if r["dev_id"] and r["tok_used_at"]:
            out["why"] = "enrolled_silent"
        elif r["tok_revoked_at"]:
            out["why"] = "token_revoked"
        elif r["tok_expires_at"] and r["tok_expires_at"] <= now_iso:
            out["why"] = "token_expired"
        elif r["token_id"] is not None:
            out["why"] = "token_unused"
    return out


def get_run(db, who, run_id):
    where, params = _scope(who)
    r = row(db, _SELECT + "WHERE r.id = ? AND " + where, [run_id] + params)
    if r is None:
        raise NotFound("no provisioning run %s" % run_id)
    return _view(r, clock.iso())


def list_runs(db, who, result=None, technician=None, limit=100, offset=0):
    """Runs newest first; result: None (all), "ok", "failed" (every failure) or "open" (failures
    not resolved since). limit None: all of them."""
    where, params = _scope(who, technician)
    if result == "ok":
        where += " AND r.ok = 1"
    elif result in ("failed", "open"):
        where += " AND r.ok = 0"
    now_iso = clock.iso()
    page = result != "open"                       # open: resolved is decided per row, then the page is cut
    sql = _SELECT + "WHERE " + where + " ORDER BY r.id DESC LIMIT ? OFFSET ?"
    found = [_view(r, now_iso) for r in rows(db, sql, params + ([-1 if limit is None else limit, offset] if page
                                                                 else [-1, 0]))]
    if not page:
        found = [r for r in found if not r["resolved"]]
        found = found[offset:] if limit is None else found[offset:offset + limit]
    return found


def awaiting_hello(db, who, technician=None):
    """Boards flashed and started whose first hello has not come: the latest run of each board
    that stopped at the hello stage, with why it waits."""
    where, params = _scope(who, technician)
    latest = ("r.id IN (SELECT max(r.id) FROM provisioning_runs r WHERE r.hw_id IS NOT NULL AND %s "
              "GROUP BY r.hw_id)" % where)
    now_iso = clock.iso()
    found = [_view(r, now_iso) for r in rows(db, _SELECT + "WHERE " + latest + " AND r.ok = 0 AND r.stage = 'hello' "
                                             "ORDER BY r.id DESC", params)]
    return [r for r in found if not r["hello_since"]]


def summary(db, who, technician=None):
    """Counts for the page's head: runs, ok, failed, open failures, awaiting hello."""
    where, params = _scope(who, technician)
    total, ok = db.conn.execute("SELECT count(*), coalesce(sum(r.ok), 0) FROM provisioning_runs r WHERE " + where,
                                params).fetchone()
    return {"runs": total, "ok": ok, "failed": total - ok,
            "open": len(list_runs(db, who, "open", technician, limit=None)),
            "awaiting": len(awaiting_hello(db, who, technician))}
