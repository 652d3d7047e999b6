"""Escalation: an alarm nobody acknowledges reaches more people, stage by stage.

A policy is a list of stages [{"after_s": 60, "group": "backup"}, {"after_s": 300, "group":
"supervisors"}] per site; site "*" is the default for sites without their own (the migration
installs that one; if it is deleted, BUILTIN applies). `after_s` counts from when the fleet
received the alarm and rises from stage to stage. When an alarm is received, its first stage's
time is stored in `alarms.next_escalation_at`; the Escalator task (in the app lifespan) sleeps
until the earliest such time, then - in a writer transaction - notifies that stage's group
(history, live stream, webhooks of that group) and stores the next stage's time. Acknowledging,
resolving or cancelling clears `next_escalation_at`, which stops the chain. Because the schedule
is in the database, a restarted server continues it (overdue stages are notified at once).

Only call alarms escalate; supervision alarms (device missing, low battery) are maintenance work.
"""

import asyncio
import json
import logging
import re

from fleet.core import clock
from fleet.core.waiting import within
from fleet.domain import audit
from fleet.domain.writer import BULK_ITEMS
from fleet.errors import Invalid, NotFound
from fleet.store.db import row, rows, write_tx

log = logging.getLogger("fleet.escalation")

DEFAULT_SITE = "*"
BUILTIN = [{"after_s": 60, "group": "backup"}, {"after_s": 300, "group": "supervisors"}]
MAX_STAGES = 10
MAX_AFTER_S = 7 * 86400
GROUP = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
IDLE_S = 3600.0          # longest sleep when nothing is scheduled (a wake() cuts it short)


def check_stages(stages):
    """Normalised stages, or Invalid saying what is wrong."""
    if not isinstance(stages, list) or not 1 <= len(stages) <= MAX_STAGES:
        raise Invalid("stages must be a list of 1-%d {after_s, group}" % MAX_STAGES)
    out, last = [], 0
    for n, stage in enumerate(stages, 1):
        if not isinstance(stage, dict) or set(stage) != {"after_s", "group"}:
            raise Invalid("stage %d must have exactly after_s and group" % n)
        after, group = stage["after_s"], stage["group"]
        if isinstance(after, bool) or not isinstance(after, int) or not 1 <= after <= MAX_AFTER_S:
            raise Invalid("stage %d: after_s must be whole seconds, 1-%d" % (n, MAX_AFTER_S))
        if after <= last:
            raise Invalid("stage %d: after_s must be later than the stage before (%d s)" % (n, last))
        if not isinstance(group, str) or not GROUP.match(group):
            raise Invalid("stage %d: group must be 1-32 lower-case letters, digits, '.', '_' or '-'" % n)
        out.append({"after_s": after, "group": group})
        last = after
    return out


def check_site(site):
    if not isinstance(site, str) or not 1 <= len(site) <= 64:
        raise Invalid("site must be 1-64 characters ('*' for the default policy)")
    return site


def stages_for(conn, site):
    """The stages that apply to an alarm of this site."""
    for key in ((site, DEFAULT_SITE) if site else (DEFAULT_SITE,)):
        found = conn.execute("SELECT stages FROM escalation_policies WHERE site = ?", (key,)).fetchone()
        if found:
            return json.loads(found[0])
    return BUILTIN


def _view(rec):
    return {"site": rec["site"], "stages": json.loads(rec["stages"]), "updated_at": rec["updated_at"],
            "updated_by": rec["updated_by"]}


def list_policies(db):
    found = [_view(r) for r in rows(db, "SELECT * FROM escalation_policies ORDER BY site")]
    if not any(p["site"] == DEFAULT_SITE for p in found):
        found.insert(0, {"site": DEFAULT_SITE, "stages": BUILTIN, "updated_at": None, "updated_by": "built in"})
    return found


def get_policy(db, site):
    rec = row(db, "SELECT * FROM escalation_policies WHERE site = ?", (check_site(site),))
    if rec is None:
        if site == DEFAULT_SITE:
            return {"site": DEFAULT_SITE, "stages": BUILTIN, "updated_at": None, "updated_by": "built in"}
        raise NotFound("site %r has no escalation policy of its own (the default '*' applies)" % site)
    return _view(rec)


def set_policy(db, actor, site, stages):
    stages = check_stages(stages)
    site = check_site(site)
    with write_tx(db):
        db.conn.execute("INSERT INTO escalation_policies (site, stages, updated_at, updated_by) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (site) DO UPDATE SET stages = excluded.stages, updated_at = excluded.updated_at, "
                        "updated_by = excluded.updated_by", (site, json.dumps(stages), clock.iso(), str(actor)))
        audit.record(db, actor, "escalation.set", site, {"stages": stages})
    return get_policy(db, site)


def delete_policy(db, actor, site):
    with write_tx(db):
        get_policy(db, site)
        db.conn.execute("DELETE FROM escalation_policies WHERE site = ?", (site,))
        audit.record(db, actor, "escalation.delete", site)


# ---- the schedule ----------------------------------------------------------------------

def next_due(conn):
    """Earliest next_escalation_at of an unacknowledged alarm (ISO), or None."""
    return conn.execute("SELECT min(next_escalation_at) FROM alarms WHERE next_escalation_at IS NOT NULL").fetchone()[0]


def escalate_due(tx):
    """Writer job: notify the next stage of the alarms that are due, at most BULK_ITEMS of them
    (the Escalator runs it again while more are due). Returns how many escalated."""
    from fleet.care import alarms
    due = tx.conn.execute("SELECT id, site, stage, received_at, state FROM alarms WHERE next_escalation_at IS NOT NULL "
                          "AND next_escalation_at <= ? ORDER BY next_escalation_at LIMIT ?",
                          (tx.now_iso, BULK_ITEMS)).fetchall()
    done = 0
    for alarm_id, site, stage, received_at, state in due:
        stages = stages_for(tx.conn, site)
        if state != "received" or stage >= len(stages):
            tx.conn.execute("UPDATE alarms SET next_escalation_at = NULL WHERE id = ?", (alarm_id,))
            continue
        group = stages[stage]["group"]
        groups = tx.conn.execute("SELECT groups FROM alarms WHERE id = ?", (alarm_id,)).fetchone()[0]
        groups = json.loads(groups or "[]")
        if group not in groups:
            groups.append(group)
        start = clock.parse_iso(received_at)
        next_at = clock.iso(start + stages[stage + 1]["after_s"]) if stage + 1 < len(stages) else None
        tx.conn.execute("UPDATE alarms SET stage = ?, groups = ?, next_escalation_at = ?, updated_at = ? WHERE id = ?",
                        (stage + 1, json.dumps(groups), next_at, tx.now_iso, alarm_id))
        alarms.record(tx, alarm_id, "escalated", alarms.FLEET,
                      {"stage": stage + 1, "group": group, "after_s": stages[stage]["after_s"]})
        alarms.announce(tx, "escalated", alarm_id, group)
        done += 1
    return done


class Escalator:
    """The lifespan task: sleep until the next stage is due (or a new alarm wakes it), escalate."""

    def __init__(self, reader, writer):
        self._reader = reader
        self._writer = writer
        self._wake = asyncio.Event()
        self.passes = 0

    def wake(self):
        self._wake.set()

    async def run(self):
        while True:
            try:
                due = next_due(self._reader.conn)
                delay = IDLE_S if due is None else clock.parse_iso(due) - clock.now()
                if delay > 0:
                    await within(self._wake.wait(), min(delay, IDLE_S))
                    self._wake.clear()
                    continue
                await self._writer.call(escalate_due)
                self.passes += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("escalation pass failed")
                await asyncio.sleep(1.0)
