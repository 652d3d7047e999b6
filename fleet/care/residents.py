"""Residents: the people behind call buttons (name, address / room, contacts, notes).

This is personal data. Only caregivers and admins read it (permissions `residents.*`,
`alarms.read`); it never goes into a log line, an error message or the audit log: the audit
says "resident.update resident:7 {fields: [room]}", never a name or a value. Device lists do not
carry it at all (the assignment lives in its own table, `device_residents`).
"""

import json

from fleet.core import clock
from fleet.domain import audit
from fleet.errors import Conflict, Invalid, NotFound
from fleet.store.db import row, rows, write_tx

LIMITS = {"name": 100, "address": 200, "room": 50, "notes": 2000}
CONTACT_LIMITS = {"name": 100, "phone": 40, "relation": 50}
MAX_CONTACTS = 10
FIELDS = ("name", "address", "room", "contacts", "notes")


def _text(field, value, required=False):
    if value is None:
        if required:
            raise Invalid("%s is required" % field)
        return None
    if not isinstance(value, str):
        raise Invalid("%s must be text" % field)
    value = value.strip()
    if required and not value:
        raise Invalid("%s must not be empty" % field)
    if len(value) > LIMITS[field]:
        raise Invalid("%s must be at most %d characters" % (field, LIMITS[field]))
    return value or None


def _contacts(value):
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_CONTACTS:
        raise Invalid("contacts must be a list of at most %d entries" % MAX_CONTACTS)
    out = []
    for n, contact in enumerate(value, 1):
        if not isinstance(contact, dict) or set(contact) - set(CONTACT_LIMITS):
            raise Invalid("contact %d: only %s" % (n, ", ".join(CONTACT_LIMITS)))
        clean = {}
        for key, limit in CONTACT_LIMITS.items():
            text = contact.get(key)
            if text is not None and (not isinstance(text, str) or len(text.strip()) > limit):
                raise Invalid("contact %d: %s must be text of at most %d characters" % (n, key, limit))
            clean[key] = text.strip() if text else None
        if not clean["name"] and not clean["phone"]:
            raise Invalid("contact %d needs a name or a phone number" % n)
        out.append(clean)
    return out


def view(rec):
    return {"id": rec["id"], "name": rec["name"], "address": rec["address"], "room": rec["room"],
            "contacts": json.loads(rec["contacts"] or "[]"), "notes": rec["notes"],
            "created_at": rec["created_at"], "updated_at": rec["updated_at"]}


def _devices_of(db, resident_id):
    return [r["device_id"] for r in rows(db, "SELECT device_id FROM device_residents WHERE resident_id = ? "
                                             "ORDER BY device_id", (resident_id,))]


def get_resident(db, resident_id):
    rec = row(db, "SELECT * FROM residents WHERE id = ?", (resident_id,))
    if rec is None:
        raise NotFound("no resident %s" % resident_id)
    return dict(view(rec), devices=_devices_of(db, resident_id))


def list_residents(db, limit=1000, offset=0):
    found = rows(db, "SELECT * FROM residents ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
    assigned = {}
    for r in rows(db, "SELECT device_id, resident_id FROM device_residents ORDER BY device_id"):
        assigned.setdefault(r["resident_id"], []).append(r["device_id"])
    return [dict(view(rec), devices=assigned.get(rec["id"], [])) for rec in found]


def create_resident(db, actor, name, address=None, room=None, contacts=None, notes=None):
    values = {"name": _text("name", name, True), "address": _text("address", address),
              "room": _text("room", room), "contacts": json.dumps(_contacts(contacts)),
              "notes": _text("notes", notes)}
    now = clock.iso()
    with write_tx(db):
        cur = db.conn.execute("INSERT INTO residents (name, address, room, contacts, notes, created_at, updated_at) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)", (*values.values(), now, now))
        audit.record(db, actor, "resident.create", "resident:%d" % cur.lastrowid)
    return get_resident(db, cur.lastrowid)


def update_resident(db, actor, resident_id, **changes):
    """Change the given fields (None leaves a field alone; "" clears an optional one)."""
    clean = {}
    for field, value in changes.items():
        if field not in FIELDS:
            raise Invalid("unknown field %r" % field)
        if value is None:
            continue
        clean[field] = json.dumps(_contacts(value)) if field == "contacts" else _text(field, value, field == "name")
    with write_tx(db):
        get_resident(db, resident_id)
        if clean:
            sets = ", ".join("%s = ?" % k for k in clean)
            db.conn.execute("UPDATE residents SET %s, updated_at = ? WHERE id = ?" % sets,
                            (*clean.values(), clock.iso(), resident_id))
            # Which fields changed, never their values.
            audit.record(db, actor, "resident.update", "resident:%d" % resident_id, {"fields": sorted(clean)})
            # An open alarm shows corrections (a caregiver on the way needs the right phone number);
            # a closed one keeps the resident as they were.
            db.conn.execute("UPDATE alarms SET resident = ? WHERE resident_id = ? AND state IN ('received', "
                            "'acknowledged')", (_copy(row(db, "SELECT * FROM residents WHERE id = ?",
                                                          (resident_id,))), resident_id))
    return get_resident(db, resident_id)


def delete_resident(db, actor, resident_id):
    """Forget a resident: assignments go; past alarms keep their facts but no longer name anyone."""
    with write_tx(db):
        get_resident(db, resident_id)
        db.conn.execute("DELETE FROM device_residents WHERE resident_id = ?", (resident_id,))
        db.conn.execute("UPDATE alarms SET resident = NULL WHERE resident_id = ?", (resident_id,))
        db.conn.execute("DELETE FROM residents WHERE id = ?", (resident_id,))
        audit.record(db, actor, "resident.delete", "resident:%d" % resident_id)


def assign(db, actor, resident_id, device_id):
    """The call button device_id belongs to this resident from now on (replacing any earlier one)."""
    with write_tx(db):
        get_resident(db, resident_id)
        device = row(db, "SELECT id, role, revoked_at FROM devices WHERE id = ?", (device_id,))
        if device is None:
            raise NotFound("no device %r" % device_id)
        if device["role"] != "call_button":
            raise Conflict("device %s is a %s: only call buttons are assigned to residents"
                           % (device_id, device["role"]), code="not_a_call_button")
        db.conn.execute("INSERT INTO device_residents (device_id, resident_id, assigned_at, assigned_by) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET resident_id = excluded.resident_id, "
                        "assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by",
                        (device_id, resident_id, clock.iso(), str(actor)))
        audit.record(db, actor, "resident.assign", "resident:%d" % resident_id, {"device": device_id})
    return get_resident(db, resident_id)


def unassign(db, actor, resident_id, device_id):
    with write_tx(db):
        get_resident(db, resident_id)
        cur = db.conn.execute("DELETE FROM device_residents WHERE device_id = ? AND resident_id = ?",
                              (device_id, resident_id))
        if not cur.rowcount:
            raise NotFound("device %r is not assigned to resident %d" % (device_id, resident_id))
        audit.record(db, actor, "resident.unassign", "resident:%d" % resident_id, {"device": device_id})
    return get_resident(db, resident_id)


def at_raise(conn, device_id):
    """The columns a new alarm of device_id stores about its resident (inside any transaction):
    resident_id and `resident`, a JSON copy of them as they are now (None if none is assigned).
    The alarm shows that copy ever after, not whoever the button belongs to later."""
    cur = conn.execute("SELECT r.* FROM device_residents dr JOIN residents r ON r.id = dr.resident_id "
                       "WHERE dr.device_id = ?", (device_id,))
    found = cur.fetchone()
    if found is None:
        return {"resident_id": None, "resident": None}
    rec = dict(zip([d[0] for d in cur.description], found))
    return {"resident_id": rec["id"], "resident": _copy(rec)}


def _copy(rec):
    return json.dumps({k: v for k, v in view(rec).items() if k not in ("created_at", "updated_at")})
