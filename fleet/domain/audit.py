"""The audit log: who did what to which thing, when, from where.

Every admin action is recorded. record() joins the caller's transaction when one is open, so
an action and its audit row commit (or vanish) together. Secrets never go into `detail`.

Refusals that anyone can cause without an account (enrollment guesses, logins refused by the
throttle) are counted by a RefusalTally instead and written as one summary row per action and
address per window: a flood of guesses adds a row a minute, not a row a guess.
"""

import collections
import json
import threading

from fleet.core import clock
from fleet.store.db import rows


def record(db, actor, action, target=None, detail=None, ip=None):
    db.conn.execute(
        "INSERT INTO audit (at, actor, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?)",
        (clock.iso(), str(actor), action, target,
         json.dumps(detail, sort_keys=True) if detail is not None else None, ip))


def entries(db, limit=100, before_id=None, action=None):
    """Newest first; page with before_id (the smallest id of the previous page)."""
    where, params = [], []
    if before_id is not None:
        where.append("id < ?")
        params.append(before_id)
    if action:
        where.append("action = ?")
        params.append(action)
    sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "")
    out = rows(db, sql + " ORDER BY id DESC LIMIT ?", params + [limit])
    for entry in out:
        entry["detail"] = json.loads(entry["detail"]) if entry["detail"] else None
    return out


class RefusalTally:
    """Counts refusals in memory; drain() gives one summary per (action, address) since the last
    drain: detail {"count", "codes": {code: n}, "targets": [the first few], "first_at", "last_at"}."""

    MAX_KEYS = 10_000      # addresses past this are counted together under "*"
    MAX_TARGETS = 5

    def __init__(self):
        self._lock = threading.Lock()
        self._open = {}

    def add(self, action, ip, code=None, target=None):
        now = clock.iso()
        with self._lock:
            key = (action, ip)
            if key not in self._open and len(self._open) >= self.MAX_KEYS:
                key = (action, "*")
            entry = self._open.get(key)
            if entry is None:
                entry = self._open[key] = {"count": 0, "codes": collections.Counter(), "targets": [],
                                           "first_at": now}
            entry["count"] += 1
            entry["last_at"] = now
            if code is not None:
                entry["codes"][code] += 1
            if target is not None and target not in entry["targets"] and len(entry["targets"]) < self.MAX_TARGETS:
                entry["targets"].append(target)

    def drain(self):
        """[(action, ip, detail)] counted since the last drain; the tally starts again empty."""
        with self._lock:
            drained, self._open = self._open, {}
        return [(action, ip, dict(entry, codes=dict(entry["codes"]))) for (action, ip), entry in drained.items()]


def record_refusals(db, drained):
    """Write what RefusalTally.drain() gave, one row each."""
    for action, ip, detail in drained:
        record(db, "anonymous", action, None, detail, ip)
