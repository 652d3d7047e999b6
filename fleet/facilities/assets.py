"""The asset registry: every streetlight, manhole cover or bin with a public identity.

An asset has a public code (devproto.assetcode: the QR label and /a/<code>), a type, where it is
(lat/lon, address, area), who maintains it, when it was installed, optionally the device that
watches it, and photos. Technicians and admins create and edit assets (one by one or from CSV);
every change is audited. What the public sees of an asset is public_view(): no device id, no
internals, nothing about who reported what.
"""

import csv
import io
import json
import re

import devproto.assetcode as assetcode

from fleet.core import clock
from fleet.domain import audit
from fleet.errors import Conflict, Invalid, NotFound
from fleet.facilities import beacons
from fleet.store.db import row, rows, write_tx

TYPES = ("streetlight", "manhole_cover", "bin", "other")
LIMITS = {"name": 100, "address": 200, "area": 64, "maintainer": 100, "notes": 2000}
FIELDS = ("type", "name", "lat", "lon", "address", "area", "maintainer", "install_date", "device_id", "notes",
          "beacon")
CSV_COLUMNS = ("code",) + FIELDS[:-1]
# down.beacon settings an asset may set for its beacon (the others come from the asset itself)
BEACON_KEYS = ("tilt_deg", "dark_pct", "lamp_on_ma", "lamp_debounce_s", "lamp_on_min", "lamp_off_min",
               "utc_offset_min", "adv_ms")
MAX_CSV_ROWS = 10000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COLUMNS = ("id", "code", "type", "name", "lat", "lon", "address", "area", "maintainer", "install_date",
            "device_id", "notes", "fault", "fault_since", "created_at", "created_by", "updated_at")


def _beacon(value):
    """Beacon settings (a dict of BEACON_KEYS within devproto.beacon's ranges) as stored JSON."""
    import devproto.beacon as settings
    if not isinstance(value, dict):
        raise Invalid("beacon must be an object of settings (%s)" % ", ".join(BEACON_KEYS))
    for key, v in value.items():
        if key not in BEACON_KEYS:
            raise Invalid("beacon: %r is not a setting an asset may change (%s)" % (key, ", ".join(BEACON_KEYS)))
        kind, lo, hi, _ = settings.BEACON[key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise Invalid("beacon: %s must be a whole number in %d..%d" % (key, lo, hi))
    return json.dumps(value, sort_keys=True) if value else None


def view(rec, db=None):
    out = {k: rec[k] for k in _COLUMNS}
    out["label"] = assetcode.label(rec["code"])
    out["beacon"] = json.loads(rec["beacon"]) if rec.get("beacon") else {}
    if db is not None:
        out["photos"] = [r[0] for r in db.conn.execute(
            "SELECT id FROM facility_photos WHERE owner = 'asset' AND owner_id = ? ORDER BY id", (rec["id"],))]
    return out


def check(values, partial=False):
    """Normalised asset fields, or Invalid naming the field."""
    out = {}
    for name in FIELDS:
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, str):
            value = value.strip()
            if value == "" and name != "type":
                value = None
        if name == "type":
            if value not in TYPES:
                raise Invalid("type must be one of %s" % ", ".join(TYPES), code="invalid_type")
        elif value is None:
            pass
        elif name in ("lat", "lon"):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise Invalid("%s must be a number in degrees" % name)
            bound = 90 if name == "lat" else 180
            if not -bound <= value <= bound or value != value:
                raise Invalid("%s must be between -%d and %d degrees" % (name, bound, bound))
        elif name == "install_date":
            if not isinstance(value, str) or not _DATE.match(value):
                raise Invalid("install_date must be a date like 2024-05-01")
            try:
                clock.parse_iso(value + "T00:00:00Z")
            except (ValueError, OverflowError):
                raise Invalid("install_date %r is not a date" % value)
        elif name == "beacon":
            value = _beacon(value)
        elif name == "device_id":
            if not isinstance(value, str) or len(value) > 64:
                raise Invalid("device_id must be a device id")
        else:
            if not isinstance(value, str):
                raise Invalid("%s must be text" % name)
            if len(value) > LIMITS[name]:
                raise Invalid("%s must be at most %d characters" % (name, LIMITS[name]))
        out[name] = value
    if not partial and "type" not in out:
        raise Invalid("type is required (%s)" % ", ".join(TYPES), code="invalid_type")
    return out


def _check_device(conn, device_id, asset_id=None):
    if device_id is None:
        return
    if conn.execute("SELECT 1 FROM devices WHERE id = ?", (device_id,)).fetchone() is None:
        raise NotFound("no device %s" % device_id)
    other = conn.execute("SELECT code FROM assets WHERE device_id = ? AND id IS NOT ?", (device_id, asset_id)).fetchone()
    if other:
        raise Conflict("device %s is already attached to asset %s" % (device_id, other[0]), code="device_attached")


def _new_code(conn):
    while True:
        code = assetcode.new_code()
        if conn.execute("SELECT 1 FROM assets WHERE code = ?", (code,)).fetchone() is None:
            return code


def _insert(conn, actor, values, code=None, now=None):
    now = now or clock.iso()
    code = code or _new_code(conn)
    values = dict(values, code=code, created_at=now, created_by=str(actor), updated_at=now)
    cur = conn.execute("INSERT INTO assets (%s) VALUES (%s)" % (", ".join(values), ", ".join("?" * len(values))),
                       tuple(values.values()))
    return cur.lastrowid


def create_asset(db, actor, values, code=None):
    values = check(values)
    if code is not None:
        code = _given_code(code)
    with write_tx(db):
        _check_device(db.conn, values.get("device_id"))
        if code and db.conn.execute("SELECT 1 FROM assets WHERE code = ?", (code,)).fetchone():
            raise Conflict("code %s is taken" % code, code="code_taken")
        asset_id = _insert(db.conn, actor, values, code)
        audit.record(db, actor, "asset.create", "asset:%d" % asset_id, {"type": values["type"]})
        beacons.changed_assets(db.conn, values.get("device_id"))
    return get_asset(db, asset_id)


def _given_code(code):
    """A code given by the caller (a label printed before import) must be a valid one."""
    canonical = assetcode.normalise(code)
    if canonical is None or not assetcode.is_valid(canonical):
        raise Invalid("code %r is not a valid asset code (8 symbols with its check symbol, e.g. K7QM-4XPA)"
                      % str(code)[:40], code="invalid_code")
    return canonical


def update_asset(db, actor, asset_id, values):
    values = check(values, partial=True)
    with write_tx(db):
        before = get_asset(db, asset_id)
        if "device_id" in values:
            _check_device(db.conn, values["device_id"], asset_id)
        if values:
            values["updated_at"] = clock.iso()
            db.conn.execute("UPDATE assets SET %s WHERE id = ?" % ", ".join("%s = ?" % k for k in values),
                            (*values.values(), asset_id))
        audit.record(db, actor, "asset.update", "asset:%d" % asset_id, {"fields": sorted(values)})
        beacons.changed_assets(db.conn, before["device_id"], values.get("device_id"))
    return get_asset(db, asset_id)


def delete_asset(db, actor, asset_id):
    with write_tx(db):
        get_asset(db, asset_id)
        if db.conn.execute("SELECT 1 FROM work_orders WHERE asset_id = ? LIMIT 1", (asset_id,)).fetchone() or \
                db.conn.execute("SELECT 1 FROM service_requests WHERE asset_id = ? LIMIT 1", (asset_id,)).fetchone():
            raise Conflict("asset %d has reports or work orders: keep it (its history stays readable)" % asset_id,
                           code="asset_has_history")
        db.conn.execute("DELETE FROM facility_photos WHERE owner = 'asset' AND owner_id = ?", (asset_id,))
        db.conn.execute("DELETE FROM assets WHERE id = ?", (asset_id,))
        audit.record(db, actor, "asset.delete", "asset:%d" % asset_id)


def get_asset(db, asset_id):
    rec = row(db, "SELECT * FROM assets WHERE id = ?", (asset_id,))
    if rec is None:
        raise NotFound("no asset %s" % asset_id)
    return view(rec, db)


def by_code(db, code):
    """The asset record (a dict of columns) whose public code this is, or None."""
    return row(db, "SELECT * FROM assets WHERE code = ?", (code,))


def by_device(conn, device_id):
    return conn.execute("SELECT id, code, type FROM assets WHERE device_id = ?", (device_id,)).fetchone()


def list_assets(db, type=None, area=None, q=None, limit=100, offset=0):
    where, params = [], []
    for column, value in (("type", type), ("area", area)):
        if value is not None:
            where.append("%s = ?" % column)
            params.append(value)
    if q:
        canonical = assetcode.normalise(q)
        where.append("(code = ? OR name LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\')")
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [canonical or q, like, like]
    sql = "SELECT * FROM assets" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id LIMIT ? OFFSET ?"
    return [view(r) for r in rows(db, sql, params + [limit, offset])]


# ---- CSV import --------------------------------------------------------------------------

def import_csv(db, actor, text):
    """Assets from CSV (a header row naming any of CSV_COLUMNS; `type` required). All or nothing:
    any bad row refuses the whole file with every problem listed by line, and nothing is stored.
    A `code` column keeps codes of labels printed before (each must be valid and free)."""
    try:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise Invalid("not a CSV file: %s" % exc, code="bad_csv")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if not header or "type" not in header or unknown:
        raise Invalid("the first row must name columns among %s, type included%s"
                      % (", ".join(CSV_COLUMNS), " (unknown: %s)" % ", ".join(unknown)[:200] if unknown else ""),
                      code="bad_csv")
    parsed, problems, codes = [], [], set()
    try:
        for line, record in enumerate(reader, start=2):
            if len(parsed) >= MAX_CSV_ROWS:
                raise Invalid("at most %d assets in one file" % MAX_CSV_ROWS, code="bad_csv")
            if None in record:
                problems.append("line %d: more values than columns" % line)
                continue
            try:
                code = _given_code(record["code"]) if record.get("code") else None
                if code and code in codes:
                    raise Conflict("code %s appears twice in the file" % code)
                values = check({k: v for k, v in record.items() if k != "code"})
            except (Invalid, Conflict) as exc:
                problems.append("line %d: %s" % (line, exc.message))
                continue
            codes.add(code)
            parsed.append((line, code, values))
    except csv.Error as exc:
        raise Invalid("not a CSV file: %s" % exc, code="bad_csv")
    with write_tx(db):
        for line, code, values in parsed:
            try:
                _check_device(db.conn, values.get("device_id"))
                if code and db.conn.execute("SELECT 1 FROM assets WHERE code = ?", (code,)).fetchone():
                    raise Conflict("code %s is taken" % code)
            except (NotFound, Conflict) as exc:
                problems.append("line %d: %s" % (line, exc.message))
        if problems:
            raise Invalid("nothing imported; fix these lines: " + "; ".join(problems[:50]), code="bad_csv")
        now = clock.iso()
        created = [_insert(db.conn, actor, values, code, now) for _, code, values in parsed]
        audit.record(db, actor, "asset.import", None, {"created": len(created)})
    return {"created": len(created), "ids": created}


def export_csv(db):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for rec in db.conn.execute("SELECT %s FROM assets ORDER BY id" % ", ".join(CSV_COLUMNS)):
        writer.writerow(["" if v is None else v for v in rec])
    return out.getvalue()


def add_photo(db, actor, asset_id, data, content_type):
    from fleet.facilities import photos
    encoded = photos.reencode(data, content_type)
    with write_tx(db):
        get_asset(db, asset_id)
        photo_id = photos.store(db, "asset", asset_id, encoded, actor, clock.iso())
        audit.record(db, actor, "asset.photo", "asset:%d" % asset_id, {"photo": photo_id})
    return photo_id

