"""The bins registry: where each bin stands, how big it is, what it takes, which device
measures it; and the import of a whole district from CSV (all or nothing, errors by line).

Attaching a device pushes the bin's depth to it (device config `bin_depth_mm`), so the board
computes its fill from the depth the registry says, and takes the device's last fill as the
bin's (readings.adopt_last_fill): a board installed before its bin is registered shows at once.
"""

import csv
import io
import math
import re

from fleet.core import clock
from fleet.domain import audit, devices
from fleet.errors import Conflict, Invalid, NotFound
from fleet.store.db import row, rows, write_tx

WASTE_TYPES = ("residual", "recycling", "organic", "glass", "paper", "plastic")
FIELDS = ("id", "name", "lat", "lon", "capacity_l", "waste_type", "depth_mm", "threshold_pct", "area", "device_id")
REQUIRED = ("id", "capacity_l", "waste_type", "depth_mm")
DEFAULT_THRESHOLD = 80
MAX_IMPORT = 20000
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def _int(field, value, lo, hi):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid("%s must be a whole number, not %r" % (field, value))
    if math.isnan(number) or number != int(number) or not lo <= number <= hi:
        raise Invalid("%s must be a whole number in %d..%d, not %s" % (field, lo, hi, value))
    return int(number)


def _coord(field, value, limit):
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid("%s must be a number, not %r" % (field, value))
    if math.isnan(number) or not -limit <= number <= limit:
        raise Invalid("%s must be in -%d..%d, not %s" % (field, limit, limit, value))
    return number


def _text(field, value, limit):
    if value in (None, ""):
        return None
    value = str(value).strip()
    if len(value) > limit:
        raise Invalid("%s must be at most %d characters" % (field, limit))
    return value or None


def clean(rec):
    """A bin record checked and normalised; Invalid names the first problem."""
    for field in REQUIRED:
        if rec.get(field) in (None, ""):
            raise Invalid("%s is required" % field)
    bin_id = str(rec["id"]).strip()
    if not _ID.match(bin_id):
        raise Invalid("id must be 1-32 letters, digits, '.', '_' or '-', not %r" % rec["id"])
    lat, lon = _coord("lat", rec.get("lat"), 90), _coord("lon", rec.get("lon"), 180)
    if (lat is None) != (lon is None):
        raise Invalid("lat and lon go together: give both or neither")
    waste = str(rec["waste_type"]).strip().lower()
    if waste not in WASTE_TYPES:
        raise Invalid("waste_type must be one of %s, not %r" % (", ".join(WASTE_TYPES), rec["waste_type"]))
    threshold = rec.get("threshold_pct")
    return {
        "id": bin_id, "name": _text("name", rec.get("name"), 100), "lat": lat, "lon": lon,
        "capacity_l": _int("capacity_l", rec["capacity_l"], 10, 100000), "waste_type": waste,
        "depth_mm": _int("depth_mm", rec["depth_mm"], 200, 3000),
        "threshold_pct": DEFAULT_THRESHOLD if threshold in (None, "") else _int("threshold_pct", threshold, 10, 100),
        "area": _text("area", rec.get("area"), 100), "device_id": _text("device_id", rec.get("device_id"), 64),
    }


def _check_device(conn, device_id, bin_id):
    if device_id is None:
        return
    dev = conn.execute("SELECT role FROM devices WHERE id = ?", (device_id,)).fetchone()
    if dev is None:
        raise Invalid("device_id %s: no such device" % device_id)
    if dev[0] != "smart_bin":
        raise Invalid("device_id %s is a %s, not a smart_bin" % (device_id, dev[0]))
    other = conn.execute("SELECT id FROM bins WHERE device_id = ? AND id != ?", (device_id, bin_id)).fetchone()
    if other is not None:
        raise Conflict("device_id %s already measures bin %s" % (device_id, other[0]))


def _push_depth(db, actor, rec):
    """The device measures with the registry's depth (its config bin_depth_mm)."""
    if rec["device_id"]:
        devices.set_config(db, actor, rec["device_id"], {"bin_depth_mm": rec["depth_mm"]})


def save(db, actor, rec, create=True):
    rec = clean(rec)
    now = clock.iso()
    with write_tx(db):
        exists = db.conn.execute("SELECT 1 FROM bins WHERE id = ?", (rec["id"],)).fetchone()
        if create and exists:
            raise Conflict("bin %s exists" % rec["id"])
        if not create and not exists:
            raise NotFound("no bin %s" % rec["id"])
        _check_device(db.conn, rec["device_id"], rec["id"])
        _upsert(db.conn, rec, now)
        audit.record(db, actor, "bin.create" if create else "bin.update", "bin:" + rec["id"])
    _push_depth(db, actor, rec)
    return get(db, rec["id"])


def _upsert(conn, rec, now):
    attached = rec["device_id"] and conn.execute(
        "SELECT 1 FROM bins WHERE id = ? AND device_id = ?", (rec["id"], rec["device_id"])).fetchone() is None
    cols = list(FIELDS)
    conn.execute("INSERT INTO bins (%s, created_at, updated_at) VALUES (%s, ?, ?) ON CONFLICT (id) DO UPDATE SET %s"
                 % (", ".join(cols), ", ".join("?" * len(cols)),
                    ", ".join("%s = excluded.%s" % (c, c) for c in cols[1:]) + ", updated_at = excluded.updated_at"),
                 tuple(rec[c] for c in cols) + (now, now))
    if attached:
        from fleet.waste import readings        # (readings imports this module)
        readings.adopt_last_fill(conn, now, rec["id"], rec["device_id"])


def delete(db, actor, bin_id):
    with write_tx(db):
        if db.conn.execute("DELETE FROM bins WHERE id = ?", (bin_id,)).rowcount == 0:
            raise NotFound("no bin %s" % bin_id)
        for table in ("bin_state", "bin_fills"):
            db.conn.execute("DELETE FROM %s WHERE bin_id = ?" % table, (bin_id,))
        audit.record(db, actor, "bin.delete", "bin:" + bin_id)


_SELECT = ("SELECT b.*, s.t AS fill_t, s.pct, s.q, s.temp_c, s.status, s.emptied_t, s.battery_v, "
           "d.status AS device_status FROM bins b LEFT JOIN bin_state s ON s.bin_id = b.id "
           "LEFT JOIN devices d ON d.id = b.device_id")


def get(db, bin_id):
    rec = row(db, _SELECT + " WHERE b.id = ?", (bin_id,))
    if rec is None:
        raise NotFound("no bin %s" % bin_id)
    return rec


def list_bins(db, area=None, limit=5000, offset=0):
    where, params = "", []
    if area:
        where, params = " WHERE b.area = ?", [area]
    return rows(db, _SELECT + where + " ORDER BY b.id LIMIT ? OFFSET ?", (*params, limit, offset))


def by_device(conn, device_id):
    found = conn.execute("SELECT id FROM bins WHERE device_id = ?", (device_id,)).fetchone()
    return found[0] if found else None


def import_csv(db, actor, text):
    """Import (insert or update) every bin of a CSV text: header with FIELDS (id, capacity_l,
    waste_type, depth_mm required). Nothing is stored unless every line is right; Invalid lists
    the problems as 'line N: ...' (N counts the header as line 1)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [f for f in REQUIRED if f not in header]
    unknown = [h for h in header if h not in FIELDS]
    if missing or unknown:
        raise Invalid("line 1: " + "; ".join(
            (["missing column%s %s" % ("s" if len(missing) > 1 else "", ", ".join(missing))] if missing else []) +
            (["unknown column%s %s (known: %s)" % ("s" if len(unknown) > 1 else "", ", ".join(unknown),
                                                   ", ".join(FIELDS))] if unknown else [])))
    reader.fieldnames = header
    records, problems, seen, devices_seen = [], [], {}, {}
    for rec in reader:
        line = reader.line_num
        if None in rec:
            problems.append("line %d: more cells than columns" % line)
            continue
        try:
            good = clean(rec)
        except Invalid as exc:
            problems.append("line %d: %s" % (line, exc))
            continue
        if good["id"] in seen:
            problems.append("line %d: bin %s is already on line %d" % (line, good["id"], seen[good["id"]]))
            continue
        seen[good["id"]] = line
        if good["device_id"] in devices_seen:
            problems.append("line %d: device %s is already on line %d" % (line, good["device_id"],
                                                                         devices_seen[good["device_id"]]))
            continue
        if good["device_id"]:
            devices_seen[good["device_id"]] = line
        records.append((line, good))
        if len(records) > MAX_IMPORT:
            raise Invalid("more than %d bins in one file" % MAX_IMPORT)
    if not records and not problems:
        raise Invalid("no bins in the file")
    now = clock.iso()
    with write_tx(db):
        for line, good in records:
            try:
                _check_device(db.conn, good["device_id"], good["id"])
            except (Invalid, Conflict) as exc:
                problems.append("line %d: %s" % (line, exc))
        if problems:
            raise Invalid("%d problem%s, nothing imported: %s" % (len(problems), "" if len(problems) == 1 else "s",
                                                                 "; ".join(problems[:50])))
        for _, good in records:
            _upsert(db.conn, good, now)
        audit.record(db, actor, "bin.import", None, {"bins": len(records)})
    for _, good in records:
        _push_depth(db, actor, good)
    return len(records)
