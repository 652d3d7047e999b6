"""The audit log: who did what to which thing, when, from where.

Every admin action and every refused enrollment is recorded. record() joins the caller's
transaction when one is open, so an action and its audit row commit (or vanish) together.
Secrets never go into `detail`.
"""

import json

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
