"""Citizen reports as Open311 GeoReport v2 service requests (docs/open311.md).

A report names a service (fleet.facilities.services) and where: an asset's public code as
`address_id` (what the public page's form sends), or lat/long, or an address. A report of an
asset opens its work order or joins the open one (fleet.facilities.workorders), so many reports
of one fault make one job; the same sender reporting the same problem of the same asset again
while it is being handled gets the first report back (`duplicate`), not a second one.

What is public (GET requests.json, requests/{id}.json, the follow page): the Open311 fields of the
spec, the asset's location and code, status open/closed with our finer state in status_notes.
Never: email, name, phone, device_id, account_id, the sender's address (only a keyed hash of it
is kept, to group repeats), the app key.
"""

import re
import secrets

import devproto.assetcode as assetcode

from fleet.core import clock
from fleet.errors import FleetError
from fleet.facilities import services, workorders
from fleet.store.db import row, rows

LIMITS = {"service_code": 40, "description": 4000, "address_string": 200, "email": 254, "first_name": 100, "last_name": 100,
          "phone": 32, "device_id": 64, "account_id": 64, "address_id": 32, "media_url": 500}
DEFAULT_DAYS = 90
MAX_RESULTS = 1000
DUPLICATE_S = 24 * 3600
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
# Our states in plain words for status_notes (English: the API's language; pages translate).
NOTES = {"new": "Received; waiting for a team.",
         "assigned": "A maintenance team has it.",
         "in_progress": "Being repaired.",
         "resolved": "Repaired: %s",
         "closed": "Repaired and checked: %s",
         "rejected": "Not acted on: %s"}


class Open311Error(FleetError):
    """A refusal in the spec's words: HTTP status and a description ([{"code", "description"}])."""

    def __init__(self, status, description, code="invalid", retry_after=None):
        super().__init__(description, code)
        self.status = status
        self.retry_after = retry_after


def bad(description):
    return Open311Error(400, description, "bad_request")


def _text(fields, name, required=False):
    value = fields.get(name)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise bad("%s is required" % name)
        return None
    if not isinstance(value, str):
        raise bad("%s must be text" % name)
    value = value.strip()
    if len(value) > LIMITS[name]:
        raise bad("%s must be at most %d characters" % (name, LIMITS[name]))
    if "\x00" in value:
        raise bad("%s holds a NUL character" % name)
    return value


def _number(fields, name, bound):
    value = fields.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad("%s must be a number in degrees (WGS84)" % name)
    if not -bound <= number <= bound:
        raise bad("%s must be between -%d and %d" % (name, bound, bound))
    return number


def check_request(conn, fields):
    """The spec's POST fields, checked: (values, asset row (id, type, area, code) or None, service)."""
    code = _text(fields, "service_code", required=True)
    service = services.BY_CODE.get(code)
    if service is None:
        raise bad("service_code %r is not one of ours (GET services.json)" % code[:40])
    lat, lon = _number(fields, "lat", 90), _number(fields, "long", 180)
    address_string = _text(fields, "address_string")
    address_id = _text(fields, "address_id")
    if (lat is None) != (lon is None):
        raise bad("lat and long go together")
    if lat is None and address_string is None and address_id is None:
        raise bad("where: lat and long, address_string or address_id (an asset code) is required")
    asset = None
    if address_id is not None:
        canonical = assetcode.normalise(address_id)
        asset = conn.execute("SELECT id, type, area, code, lat, lon, address FROM assets WHERE code = ?",
                             (canonical,)).fetchone() if canonical else None
        if asset is None:
            raise bad("address_id %r is not the code of one of our assets" % address_id[:40])
        if asset[1] not in service.asset_types:
            raise bad("service_code %s does not apply to a %s (asset %s)" % (code, asset[1], asset[3]))
    email = _text(fields, "email")
    if email is not None and not _EMAIL.match(email):
        raise bad("email is not an e-mail address")
    values = {"service_code": code, "lat": lat, "lon": lon, "address_string": address_string,
              "address_id": asset[3] if asset else None, "email": email,
              "description": _text(fields, "description")}
    for name in ("first_name", "last_name", "phone", "device_id", "account_id"):
        values[name] = _text(fields, name)
    _text(fields, "media_url")          # checked, never fetched nor shown (docs/open311.md)
    if asset is not None and lat is None:
        values["lat"], values["lon"] = asset[4], asset[5]
    if asset is not None and address_string is None:
        values["address_string"] = asset[6]
    return values, asset, service


def create(tx, fields, source, client, app_key_id=None, photo=None, lang=None):
    """Store a report (or find the sender's earlier one of the same problem); photo: a
    photos.reencode() result. Returns the POST
    answer's item: service_request_id, token, service_notice, account_id, plus duplicate."""
    values, asset, service = check_request(tx.conn, fields)
    if asset is not None:
        earlier = tx.conn.execute(
            "SELECT s.id, s.token FROM service_requests s JOIN work_orders w ON w.id = s.work_order_id "
            "WHERE s.asset_id = ? AND s.service_code = ? AND s.client = ? AND s.requested_at >= ? "
            "AND w.state IN ('new', 'assigned', 'in_progress') ORDER BY s.id LIMIT 1",
            (asset[0], values["service_code"], client, clock.iso(tx.now - DUPLICATE_S))).fetchone()
        if earlier is not None:
            return {"service_request_id": str(earlier[0]), "token": earlier[1], "account_id": None,
                    "service_notice": "You reported this already; it is being handled (request %d)." % earlier[0],
                    "duplicate": True}
    token = secrets.token_urlsafe(18)
    values.update(token=token, asset_id=asset[0] if asset else None, source=source, client=client,
                  app_key_id=app_key_id, lang=lang, requested_at=tx.now_iso, updated_at=tx.now_iso)
    cur = tx.conn.execute("INSERT INTO service_requests (%s) VALUES (%s)" % (", ".join(values),
                                                                           ", ".join("?" * len(values))),
                          tuple(values.values()))
    request_id = cur.lastrowid
    if photo is not None:
        from fleet.facilities import photos
        photo_id = photos.store(tx, "report", request_id, photo, "public", tx.now_iso)
        tx.conn.execute("UPDATE service_requests SET photo_id = ? WHERE id = ?", (photo_id, request_id))
    wo_id, joined = workorders.open_or_join(tx, asset[:3] if asset else None, values["service_code"], "report",
                                            {"report": request_id})
    tx.conn.execute("UPDATE service_requests SET work_order_id = ? WHERE id = ?", (wo_id, request_id))
    notice = ("Thank you. This problem was already reported and is being handled." if joined else
              "Thank you. A work order was opened; the fix is due within %g hours." % service.resolve_h)
    return {"service_request_id": str(request_id), "token": token, "service_notice": notice, "account_id": None,
            "duplicate": False}


# ---- reading (everything here is public) ------------------------------------------------------

_SELECT = ("SELECT s.id, s.token, s.service_code, s.description, s.lat, s.lon, s.address_string, s.address_id, "
           "s.photo_id, s.requested_at, s.updated_at, s.work_order_id, w.state, w.updated_at AS wo_updated, w.resolution_note, "
           "w.reject_reason, w.due_at, w.opened_at, w.resolved_at, w.closed_at, w.rejected_at, w.started_at "
           "FROM service_requests s LEFT JOIN work_orders w ON w.id = s.work_order_id")


# What a reporter is told of each step of the work order behind their report: the step, never
# who did it (no technician's or team's name) nor staff notes; the resolution note and the
# reason for a rejection are public already (status_notes).
PUBLIC_STEPS = ("opened", "joined", "assigned", "assign", "take", "start", "overdue", "escalated", "sensor_restored",
                "resolve", "close", "reject")


def history(db, rec):
    """[{"at", "step"}] of the report's work order, oldest first, from when the report was sent
    (a report that joined an open order starts with "joined")."""
    if not rec.get("work_order_id"):
        return []
    marks = ",".join("?" * len(PUBLIC_STEPS))
    found = rows(db, "SELECT at, action AS step FROM work_order_events WHERE work_order_id = ? AND at >= ? AND "
                 "action IN (%s) ORDER BY id" % marks, (rec["work_order_id"], rec["requested_at"], *PUBLIC_STEPS))
    return found


def status_of(state):
    return "open" if state in workorders.OPEN or state is None else "closed"


def status_notes(rec):
    state = rec["state"] or "new"
    note = NOTES[state]
    if "%s" in note:
        note = note % (rec["reject_reason"] if state == "rejected" else rec["resolution_note"] or "")
    return note


def public(rec):
    """One service request as the spec's GET answers show it (nothing personal)."""
    service = services.BY_CODE.get(rec["service_code"])
    updated = max(filter(None, (rec["updated_at"], rec["wo_updated"])))
    return {
        "service_request_id": str(rec["id"]),
        "status": status_of(rec["state"]),
        "status_notes": status_notes(rec),
        "service_name": service.name if service else rec["service_code"],
        "service_code": rec["service_code"],
        "description": rec["description"],
        "agency_responsible": None,
        "service_notice": None,
        "requested_datetime": rfc3339(rec["requested_at"]),
        "updated_datetime": rfc3339(updated),
        "expected_datetime": rfc3339(rec["due_at"]) if rec["state"] in workorders.OPEN else None,
        "address": rec["address_string"],
        "address_id": rec["address_id"],
        "zipcode": None,
        "lat": rec["lat"],
        "long": rec["lon"],
        "media_url": None,
    }


def rfc3339(iso):
    """Our stored times (…Z with milliseconds) as the spec's W3C datetime, seconds precision."""
    return None if iso is None else iso[:19] + "Z"


def get(db, request_id):
    rec = row(db, _SELECT + " WHERE s.id = ?", (request_id,))
    return None if rec is None else rec


def by_token(db, token):
    return row(db, _SELECT + " WHERE s.token = ?", (token,)) if isinstance(token, str) and len(token) <= 64 else None


def _date(name, value):
    if value is None:
        return None
    if not _DATE.match(value):
        raise bad("%s must be a W3C date-time, e.g. 2026-01-31T08:00:00Z" % name)
    text = value if "T" in value else value + "T00:00:00Z"
    if text[-1] != "Z" and "+" not in text[10:] and "-" not in text[10:]:
        text += "Z"
    try:
        return clock.iso(clock.parse_iso(text))
    except (ValueError, OverflowError):
        raise bad("%s is not a date" % name)


def search(db, query):
    """GET requests.json: the spec's filters. service_request_id (comma-separated) overrides the
    others; default window the last 90 days; at most 1000 results, newest first."""
    ids = query.get("service_request_id")
    if ids:
        try:
            wanted = [int(i) for i in ids.split(",") if i.strip()][:MAX_RESULTS]
        except ValueError:
            raise bad("service_request_id must be request ids separated by commas")
        if not wanted:
            return []
        found = rows(db, _SELECT + " WHERE s.id IN (%s) ORDER BY s.id DESC" % ",".join("?" * len(wanted)), wanted)
        return [public(r) for r in found]
    where, params = [], []
    codes = query.get("service_code")
    if codes:
        codes = [c.strip() for c in codes.split(",") if c.strip()]
        where.append("s.service_code IN (%s)" % ",".join("?" * len(codes)))
        params += codes
    start, end = _date("start_date", query.get("start_date")), _date("end_date", query.get("end_date"))
    if start is None and end is None:
        start = clock.iso(clock.now() - DEFAULT_DAYS * 86400)
    elif start is None:
        start = clock.iso(clock.parse_iso(end) - DEFAULT_DAYS * 86400)
    elif end is None:
        end = clock.iso(clock.parse_iso(start) + DEFAULT_DAYS * 86400)
    if end is not None and start > end:
        raise bad("start_date is after end_date")
    where.append("s.requested_at >= ?")
    params.append(start)
    if end is not None:
        where.append("s.requested_at <= ?")
        params.append(end)
    status = query.get("status")
    if status:
        wanted = {s.strip() for s in status.split(",") if s.strip()}
        if not wanted <= {"open", "closed"}:
            raise bad("status must be open, closed or both (comma-separated)")
        if wanted == {"open"}:
            where.append("(w.state IS NULL OR w.state IN ('new', 'assigned', 'in_progress'))")
        elif wanted == {"closed"}:
            where.append("w.state IN ('resolved', 'closed', 'rejected')")
    found = rows(db, _SELECT + " WHERE " + " AND ".join(where) + " ORDER BY s.id DESC LIMIT ?",
                 params + [MAX_RESULTS])
    return [public(r) for r in found]
