"""Devices as people see them: listing, detail, revoke, rotate the secret, push config, events
(their tags: fleet.domain.tags).

No function here ever returns a device secret, except rotate_secret() - once, to its caller.
Functions that change a device's `down` raise its cursor in the same transaction; the caller
(API) then tells the running runtime (runtime.device_changed) so caches drop and long-polls wake.
"""

import json

import devproto

from fleet.core import clock, security
from fleet.domain import audit, tags as device_tags
from fleet.domain.downlink import raise_cursors
from fleet.errors import Conflict, Invalid, NotFound
from fleet.store.db import row, rows, write_tx

STATUSES = ("never_seen", "online", "offline", "revoked")
PUBLIC = ("id", "hw_id", "role", "board", "site", "status", "status_changed_at", "last_seen", "last_hello",
          "enrolled_at", "revoked_at", "generation", "config_version", "reported_cv", "cursor",
          "fw", "app", "slot", "reset_cause", "wake_reason", "heap_free", "rssi")
# What a list row or a live update shows.
SUMMARY = ("id", "role", "site", "board", "status", "last_seen", "fw", "app", "rssi", "revoked_at", "tags")
_SELECT = "SELECT %s, config, hello_errors, %s AS tags FROM devices" % (", ".join(PUBLIC), device_tags.SQL_OF_DEVICE)


def view(rec):
    out = {k: rec[k] for k in PUBLIC}
    out["config"] = json.loads(rec["config"]) if rec.get("config") else None
    out["hello_errors"] = json.loads(rec["hello_errors"]) if rec.get("hello_errors") else []
    out["tags"] = device_tags.parse(rec.get("tags"))
    return out


def summary(device):
    return {k: device[k] for k in SUMMARY}


def list_devices(db, role=None, status=None, site=None, limit=1000, offset=0, hw_id=None, tags=None):
    """tags: only devices that have every one of them (each must be a valid tag)."""
    where, params = [], []
    for column, value in (("role", role), ("status", status), ("site", site), ("hw_id", hw_id)):
        if value is not None:
            where.append("%s = ?" % column)
            params.append(value)
    for tag in device_tags.check_tags(tags or [], limit=None):
        where.append("id IN (SELECT device_id FROM device_tags WHERE tag = ?)")
        params.append(tag)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id LIMIT ? OFFSET ?"
    return [view(d) for d in rows(db, sql, params + [limit, offset])]


def get_device(db, device_id):
    rec = row(db, _SELECT + " WHERE id = ?", (device_id,))
    if rec is None:
        raise NotFound("no device %r" % device_id)
    return view(rec)


def revoke(db, actor, device_id, reason=None):
    with write_tx(db):
        device = get_device(db, device_id)
        if device["revoked_at"]:
            raise Conflict("device %s is already revoked" % device_id)
        now_iso = clock.iso()
        db.conn.execute("UPDATE devices SET revoked_at = ?, status = 'revoked', status_changed_at = ? "
                        "WHERE id = ?", (now_iso, now_iso, device_id))
        audit.record(db, actor, "device.revoke", device_id, {"reason": reason} if reason else None)
    return get_device(db, device_id)


def rotate_secret(db, box, actor, device_id):
    """A new secret for the device: (device view, secret hex). The old secret stops working at once."""
    secret = security.new_device_secret()
    with write_tx(db):
        device = get_device(db, device_id)
        if device["revoked_at"]:
            raise Conflict("device %s is revoked: enroll it again instead" % device_id)
        db.conn.execute("UPDATE devices SET secret_enc = ? WHERE id = ?", (box.seal(device_id, secret), device_id))
        audit.record(db, actor, "device.rotate", device_id)
    return get_device(db, device_id), secret


def set_config(db, actor, device_id, changes):
    """Merge changes into the device config (validated by devproto); a new config_version if anything changed."""
    device = get_device(db, device_id)
    try:
        devproto.check_config(changes, device["role"])
    except devproto.ProtocolError as exc:
        raise Invalid(exc.message)
    with write_tx(db):
        device = get_device(db, device_id)
        config = dict(device["config"], **changes)
        if config != device["config"]:
            db.conn.execute("UPDATE devices SET config = ?, config_version = config_version + 1 WHERE id = ?",
                            (json.dumps(config), device_id))
            raise_cursors(db.conn, [device_id])
            audit.record(db, actor, "device.config", device_id, changes)
    return get_device(db, device_id)


def list_events(db, device_id, limit=100, before_id=None, event_type=None):
    get_device(db, device_id)
    where, params = ["device_id = ?"], [device_id]
    if before_id is not None:
        where.append("id < ?")
        params.append(before_id)
    if event_type is not None:
        where.append("type = ?")
        params.append(event_type)
    found = rows(db, "SELECT id, device_id, generation, stream, seq, type, t_device, at, received_at, data "
                     "FROM events WHERE %s ORDER BY id DESC LIMIT ?" % " AND ".join(where), params + [limit])
    for ev in found:
        ev["data"] = json.loads(ev["data"])
    return found
