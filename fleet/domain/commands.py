"""Commands to devices: queued by people, delivered in `down.commands`, closed by `cmd_result`.

A command stays in every response's `down.commands` until the device reports its outcome
with a cmd_result event; the device runs each id once. Both sides of that loop use the
fleet's own hooks: a downlink provider puts pending commands into `down`, an event handler
closes them.
"""

import json

import devproto

from fleet.core import clock
from fleet.domain import audit
from fleet.domain.downlink import raise_cursors, register_downlink_provider
from fleet.domain.ingest import register_event_handler
from fleet.errors import Conflict, Invalid, NotFound
from fleet.store.db import row, rows, write_tx

MAX_ARGS_JSON = 1024


def send_command(db, actor, device_id, name, args=None):
    if name not in devproto.COMMANDS:
        raise Invalid("command must be one of %s, not %r" % (", ".join(devproto.COMMANDS), name))
    args = args or {}
    encoded = json.dumps(args, sort_keys=True)
    if not isinstance(args, dict) or len(encoded) > MAX_ARGS_JSON:
        raise Invalid("args must be a JSON object of at most %d bytes" % MAX_ARGS_JSON)
    with write_tx(db):
        device = row(db, "SELECT id, revoked_at FROM devices WHERE id = ?", (device_id,))
        if device is None:
            raise NotFound("no device %r" % device_id)
        if device["revoked_at"]:
            raise Conflict("device %s is revoked" % device_id)
        cur = db.conn.execute(
            "INSERT INTO commands (device_id, name, args, status, created_at, created_by) "
            "VALUES (?, ?, ?, 'pending', ?, ?)", (device_id, name, encoded, clock.iso(), str(actor)))
        raise_cursors(db.conn, [device_id])
        audit.record(db, actor, "device.command", device_id, {"id": cur.lastrowid, "name": name})
    return get_command(db, cur.lastrowid)


def _view(cmd):
    return dict(cmd, args=json.loads(cmd["args"]))


def get_command(db, command_id):
    cmd = row(db, "SELECT * FROM commands WHERE id = ?", (command_id,))
    if cmd is None:
        raise NotFound("no command %s" % command_id)
    return _view(cmd)


def list_commands(db, device_id, limit=50):
    return [_view(c) for c in rows(db, "SELECT * FROM commands WHERE device_id = ? ORDER BY id DESC LIMIT ?",
                                   (device_id, limit))]


def pending_for(db, device):
    """Downlink provider: what the device still has to run, oldest first."""
    return [{"id": c["id"], "name": c["name"], "args": json.loads(c["args"])}
            for c in rows(db, "SELECT id, name, args FROM commands WHERE device_id = ? AND status = 'pending' "
                              "ORDER BY id", (device.id,))]


def on_cmd_result(tx, device, event):
    """Event handler: close the command; a result for an unknown or closed command changes nothing."""
    data = event["data"]
    cur = tx.conn.execute(
        "UPDATE commands SET status = ?, detail = ?, done_at = ? WHERE id = ? AND device_id = ? "
        "AND status = 'pending'",
        ("ok" if data["ok"] else "failed", data.get("detail"), tx.now_iso, data["id"], device.id))
    if cur.rowcount:
        tx.mark_downlink_changed(device.id)


register_downlink_provider("commands", pending_for)
# The update offer belongs to the OTA work; until then devices are told there is none.
register_downlink_provider("update", lambda db, device: None)
register_event_handler("cmd_result", on_cmd_result)
