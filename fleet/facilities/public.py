"""What anyone may see of an asset (the QR page /a/<code>): what it is, who maintains it, its
status in plain words. Nothing personal (no reporter, no technician's name) and no device
internals (no device id, battery, signal or firmware).

Status, from what the fleet knows:
    being_handled   a work order is open: "fault reported, being handled since …" (its state says
                    how far: waiting for a team, a team has it, being repaired)
    fault           its sensor reports a fault and no work order is open (just restored by hand?)
    working         otherwise; "repaired on …" when a work order was resolved in the last 14 days
"""

import devproto.assetcode as assetcode

from fleet.core import clock
from fleet.facilities import services

RECENT_FIX_S = 14 * 86400


def status(conn, asset):
    """{"status", "state", "since", "category"} of an asset record (a dict of its columns)."""
    found = conn.execute("SELECT state, opened_at, category FROM work_orders WHERE asset_id = ? AND state IN "
                         "('new', 'assigned', 'in_progress')", (asset["id"],)).fetchone()
    if found is not None:
        return {"status": "being_handled", "state": found[0], "since": found[1], "category": found[2]}
    if asset["fault"]:
        return {"status": "fault", "state": None, "since": asset["fault_since"],
                "category": services.FAULTS.get(asset["fault"])}
    fixed = conn.execute("SELECT max(resolved_at) FROM work_orders WHERE asset_id = ? AND state IN ('resolved', "
                         "'closed')", (asset["id"],)).fetchone()[0]
    if fixed and fixed >= clock.iso(clock.now() - RECENT_FIX_S):
        return {"status": "working", "state": "repaired", "since": fixed, "category": None}
    return {"status": "working", "state": None, "since": None, "category": None}


def view(conn, asset):
    """The public facts of an asset record."""
    return {"code": asset["code"], "label": assetcode.label(asset["code"]), "type": asset["type"],
            "name": asset["name"], "address": asset["address"], "maintainer": asset["maintainer"],
            "install_date": asset["install_date"], "lat": asset["lat"], "lon": asset["lon"],
            **status(conn, asset)}


def suggestions(conn, typed, limit=3):
    """Registered codes one symbol away from what was typed (a misread label), at most `limit`."""
    text = (typed or "").strip().upper().replace("-", "").replace(" ", "")
    text = "".join({"O": "0", "I": "1", "L": "1"}.get(c, c) for c in text)
    if len(text) != assetcode.LENGTH or any(c not in assetcode.ALPHABET for c in text):
        return []
    candidates = set()
    for i in range(assetcode.LENGTH):
        for c in assetcode.ALPHABET:
            code = text[:i] + c + text[i + 1:]
            if code != text and assetcode.is_valid(code):
                candidates.add(code)
    if not candidates:
        return []
    marks = ",".join("?" * len(candidates))
    return [{"code": r[0], "label": assetcode.label(r[0]), "type": r[1], "address": r[2]} for r in conn.execute(
        "SELECT code, type, address FROM assets WHERE code IN (%s) ORDER BY code LIMIT ?" % marks,
        (*sorted(candidates), limit))]
