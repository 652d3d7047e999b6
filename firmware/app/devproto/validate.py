# Device protocol v1, the fleet's side: its limits, the names it checks, the validators
# (requests it receives) and unit tests. Imported lazily by devproto on MicroPython (see
# the end of __init__.py); CPython sees every name here as devproto.NAME.
from devproto import MAX_ERRORS, MAX_EVENTS, MAX_STR, RESET_CAUSES, WAKE_REASONS  # noqa: F401
from devproto.devconfig import BOOL, CONFIG, INT, NUM, STR, _kind_ok  # noqa: F401

VERSION = 1
# Protocol v1.1: the request header by which a device asks for signed replies (signed_headers
# sends it), and the reply headers: the server's time, on every reply, and the signature.
PROTOCOL = "1.1"
H_PROTOCOL = "X-Protocol-Version"
# Reply headers (protocol v1.1): the server's time, on every reply, and the reply's signature.
H_SERVER_TIME = "X-Server-Time"
H_REPLY_SIG = "X-Reply-Signature"

# Limits.
MIN_VALID_TIME = 1577836800  # 2020-01-01: device times before this mean "clock unknown"
MAX_BODY = 16384          # bytes of any request body
MAX_METRICS = 32          # metrics in one telemetry event
MAX_KEY = 32              # characters of a type name, data key or alarm reference
CLOCK_WINDOW = 300        # seconds a timestamp may differ from server time
NONCE_MIN = 8             # hex characters
NONCE_MAX = 32
ENROLL_FIELD_MAX = 64     # characters of an enrollment token, board or site

ROLES = ("call_button", "smart_bin", "beacon")
SLOTS = ("a", "b")

# Alarm states the fleet reports back in "down.alarms" (ref -> state).
ALARM_STATES = ("raised", "received", "acknowledged", "resolved", "cancelled")

# Command names the fleet may put in "down.commands".
COMMANDS = ("reboot", "self_test", "identify")


def server_time_text(ms):
    """X-Server-Time for Unix time in integer milliseconds: '1796031157.980' (the fleet writes
    it; devproto.parse_server_time reads it)."""
    return "%d.%03d" % (ms // 1000, ms % 1000)


def is_hex(s, lo, hi):
    if not (lo <= len(s) <= hi):
        return False
    for c in s:
        if c not in "0123456789abcdef":
            return False
    return True


# Error codes -> HTTP status. Every error response body is
# {"error": {"code": CODE, "message": TEXT}, "time": SERVER_UNIX_TIME}.
ERRORS = {
    "bad_json": 400,
    "bad_request": 400,
    "unknown_event_type": 400,
    "missing_signature": 401,
    "bad_signature": 401,
    "stale_timestamp": 401,
    "unknown_device": 401,
    "revoked": 403,
    "token_invalid": 403,
    "token_used": 403,
    "token_expired": 403,
    "token_mismatch": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "replay": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "internal": 500,
}

# Event types: name -> {field: (kind, required)}. Fields not listed are refused.
EVENT_TYPES = {
    # Periodic "test transmission": proves the device is alive.
    "heartbeat": {"battery_v": (NUM, False), "interval_min": (INT, False), "rssi": (INT, False)},
    # Free-form numeric readings (role-specific metric names, numbers only).
    "telemetry": None,
    # Call button: one alarm reference ("ref") for every retry and for its cancel.
    "alarm": {"ref": (STR, True), "kind": (STR, False), "battery_v": (NUM, False)},
    "alarm_cancel": {"ref": (STR, True)},
    # Battery estimate says the reserve is running out.
    "battery_low": {"battery_v": (NUM, True), "days_left": (INT, False)},
    # An error the firmware caught and kept running.
    "error": {"msg": (STR, True), "where": (STR, False)},
    # Outcome of a command delivered in "down.commands".
    "cmd_result": {"id": (INT, True), "ok": (BOOL, True), "detail": (STR, False)},
    # Smart bin (docs/smart-bins.md): fill 0-100 % with a quality flag (FILL_QUALITY), the
    # distance measured, temperature, tilt; an emptying; fire (urgent); knocked over and
    # back up; a lid opening; a sensor that cannot be trusted.
    "fill": {"q": (STR, True), "pct": (INT, False), "mm": (INT, False), "temp_c": (NUM, False),
             "tilt": (INT, False), "battery_v": (NUM, False)},
    "emptied": {"from": (INT, True), "to": (INT, True)},
    "fire": {"temp_c": (NUM, True), "rise_c": (NUM, False), "why": (STR, False)},
    "tilted": {"deg": (INT, True), "on": (BOOL, True)},
    "lid_open": {"s": (INT, False)},
    "sensor_fault": {"kind": (STR, True), "detail": (STR, False)},
    # Facility beacon (docs/facilities.md): a manhole cover tilted past tilt_deg from its
    # installed angle, and back; a streetlight dark when it should be lit, lit in daylight, and
    # right again (lamp_ok ends either). light: 0..1 level; current_a: lamp current if measured.
    "cover_open": {"tilt_deg": (NUM, True), "battery_v": (NUM, False)},
    "cover_closed": {"tilt_deg": (NUM, True)},
    "lamp_fault": {"light": (NUM, True), "current_a": (NUM, False)},
    "day_burning": {"light": (NUM, True), "current_a": (NUM, False)},
    "lamp_ok": {"light": (NUM, True), "current_a": (NUM, False)},
    # OTA progress and outcome of an update offer (docs/ota.md): the release id, the stage (one
    # of OTA_STAGES), a reason code for deferred/failed/rolled_back, percent while downloading,
    # the version it is about (installed, pending, succeeded; rolled_back: the one it went back to).
    "ota": {"id": (STR, True), "stage": (STR, True), "reason": (STR, False), "progress": (INT, False),
            "version": (STR, False)},
}
FILL_QUALITY = ("ok", "too_close", "no_echo", "unstable")
# Physical bounds of numeric event fields: (type, field) -> (min, max). Outside (NaN too) is
# refused as bad_request: an impossible reading never reaches a forecast.
BOUNDS = {
    ("fill", "pct"): (0, 100), ("fill", "mm"): (0, 10000), ("fill", "temp_c"): (-60, 200),
    ("fill", "tilt"): (0, 180), ("fill", "battery_v"): (0, 10), ("emptied", "from"): (0, 100),
    ("emptied", "to"): (0, 100), ("fire", "temp_c"): (-60, 500), ("fire", "rise_c"): (-100, 500),
    ("tilted", "deg"): (0, 180), ("lid_open", "s"): (0, 86400),
}
# Config keys of one role only, on top of CONFIG (devproto/binconfig.py for smart bins).
from devproto.binconfig import KEYS as _BIN_KEYS  # noqa: E402
ROLE_CONFIG = {"smart_bin": _BIN_KEYS}


def role_config(role):
    """The config schema of a role: CONFIG and the role's own keys."""
    return dict(CONFIG, **ROLE_CONFIG.get(role, {}))


def role_default_config(role):
    """Every config key of a role with its default."""
    return dict((k, v[3]) for k, v in role_config(role).items())

OTA_STAGES = ("deferred", "downloading", "verifying", "installed", "pending", "succeeded", "failed",
              "rolled_back")

# Hello body: field -> (kind, required).
HELLO_FIELDS = {
    "fw": (STR, True),           # MicroPython version string
    "app": (STR, True),          # application bundle version
    "slot": (STR, True),         # active application slot, one of SLOTS
    "board": (STR, True),        # board definition name
    "role": (STR, True),         # one of ROLES
    "reset_cause": (STR, True),  # one of RESET_CAUSES
    "wake_reason": (STR, True),  # one of WAKE_REASONS
    "heap_free": (INT, True),    # bytes free on the MicroPython heap
    "rssi": (INT, False),        # dBm, absent if unknown
    "cv": (INT, False),          # config version the device runs with
    "stream": (INT, False),      # outbox stream id
    "seq": (INT, False),         # last sequence number the device assigned
    "errors": ("list", False),   # up to MAX_ERRORS strings since the last hello
}

# Enrollment request body: field -> (kind, required). Not signed: the token is the credential.
ENROLL_FIELDS = {
    "token": (STR, True),   # single-use enrollment token minted in the fleet
    "hw_id": (STR, True),   # 12 lowercase hex digits: the Wi-Fi MAC
    "role": (STR, True),    # one of ROLES
    "board": (STR, True),   # board definition name
    "site": (STR, False),   # where it is installed, if the technician knows
}
HW_ID_LEN = 12


class ProtocolError(Exception):
    """A request that breaks the protocol. code is one of ERRORS."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    def status(self):
        return ERRORS.get(self.code, 400)


def check_fields(obj, fields, what):
    """Check obj (a dict) against {field: (kind, required)}; raise ProtocolError."""
    if not isinstance(obj, dict):
        raise ProtocolError("bad_request", what + " must be a JSON object")
    for name in obj:
        if name not in fields:
            raise ProtocolError("bad_request", "%s: unknown field '%s'" % (what, name))
    for name, spec in fields.items():
        if name not in obj:
            if spec[1]:
                raise ProtocolError("bad_request", "%s: missing field '%s'" % (what, name))
            continue
        if not _kind_ok(spec[0], obj[name]):
            raise ProtocolError("bad_request", "%s: field '%s' must be %s" % (what, name, spec[0]))


def _check_name(s, what):
    if not isinstance(s, str) or not (0 < len(s) <= MAX_KEY):
        raise ProtocolError("bad_request", "%s must be a string of 1-%d characters" % (what, MAX_KEY))


def check_event(ev):
    """Validate one event {"seq", "t", "type", "data"}; raise ProtocolError."""
    if not isinstance(ev, dict):
        raise ProtocolError("bad_request", "event must be a JSON object")
    for name in ev:
        if name not in ("seq", "t", "type", "data"):
            raise ProtocolError("bad_request", "event: unknown field '%s'" % name)
    seq = ev.get("seq")
    if not _kind_ok(INT, seq) or seq < 1 or seq > 0xFFFFFFFF:
        raise ProtocolError("bad_request", "event: 'seq' must be an integer 1..4294967295")
    if not _kind_ok(INT, ev.get("t")) or ev["t"] < 0:
        raise ProtocolError("bad_request", "event: 't' must be a non-negative integer (Unix seconds)")
    etype = ev.get("type")
    _check_name(etype, "event 'type'")
    if etype not in EVENT_TYPES:
        raise ProtocolError("unknown_event_type", "event type '%s' is not part of protocol v1" % etype)
    data = ev.get("data", {})
    if not isinstance(data, dict):
        raise ProtocolError("bad_request", "event: 'data' must be a JSON object")
    fields = EVENT_TYPES[etype]
    if fields is None:  # telemetry: metric name -> number
        if len(data) > MAX_METRICS:
            raise ProtocolError("too_large", "telemetry: at most %d metrics" % MAX_METRICS)
        for k, v in data.items():
            _check_name(k, "telemetry metric name")
            if not _kind_ok(NUM, v):
                raise ProtocolError("bad_request", "telemetry metric '%s' must be a number" % k)
    else:
        check_fields(data, fields, etype)
        if "ref" in data:
            _check_name(data["ref"], etype + " 'ref'")
        for k, v in data.items():
            b = BOUNDS.get((etype, k))
            if b is not None and not (b[0] <= v <= b[1]):
                raise ProtocolError("bad_request", "%s: '%s' must be in %s..%s" % (etype, k, b[0], b[1]))
        if etype == "fill" and data["q"] not in FILL_QUALITY:
            raise ProtocolError("bad_request", "fill: 'q' must be one of " + ", ".join(FILL_QUALITY))
        if etype == "ota" and data["stage"] not in OTA_STAGES:
            raise ProtocolError("bad_request", "ota: 'stage' must be one of %s" % ", ".join(OTA_STAGES))


def check_batch(body):
    """Validate an events request body {"events": [...], "stream": n, "cv": n}."""
    if not isinstance(body, dict):
        raise ProtocolError("bad_request", "body must be a JSON object")
    for name in body:
        if name not in ("events", "stream", "cv"):
            raise ProtocolError("bad_request", "events body: unknown field '%s'" % name)
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise ProtocolError("bad_request", "'events' must be a non-empty list")
    if len(events) > MAX_EVENTS:
        raise ProtocolError("too_large", "%d events in one batch, limit %d" % (len(events), MAX_EVENTS))
    for k in ("stream", "cv"):
        if k in body and (not _kind_ok(INT, body[k]) or body[k] < 0 or body[k] > 0xFFFFFFFF):
            raise ProtocolError("bad_request", "'%s' must be an integer 0..4294967295" % k)
    for ev in events:
        check_event(ev)


def check_hello(body):
    check_fields(body, HELLO_FIELDS, "hello")
    if body["slot"] not in SLOTS:
        raise ProtocolError("bad_request", "hello: 'slot' must be one of " + ", ".join(SLOTS))
    if body["role"] not in ROLES:
        raise ProtocolError("bad_request", "hello: 'role' must be one of " + ", ".join(ROLES))
    if body["reset_cause"] not in RESET_CAUSES:
        raise ProtocolError("bad_request", "hello: 'reset_cause' must be one of " + ", ".join(RESET_CAUSES))
    if body["wake_reason"] not in WAKE_REASONS:
        raise ProtocolError("bad_request", "hello: 'wake_reason' must be one of " + ", ".join(WAKE_REASONS))
    errs = body.get("errors", [])
    if len(errs) > MAX_ERRORS:
        raise ProtocolError("bad_request", "hello: at most %d errors" % MAX_ERRORS)
    for e in errs:
        if not _kind_ok(STR, e):
            raise ProtocolError("bad_request", "hello: each error must be a string of at most %d characters" % MAX_STR)


def check_enroll(body):
    check_fields(body, ENROLL_FIELDS, "enroll")
    if not is_hex(body["hw_id"], HW_ID_LEN, HW_ID_LEN):
        raise ProtocolError("bad_request", "enroll: 'hw_id' must be 12 lowercase hex digits (the Wi-Fi MAC)")
    if body["role"] not in ROLES:
        raise ProtocolError("bad_request", "enroll: 'role' must be one of " + ", ".join(ROLES))
    for name in ("token", "board", "site"):
        if name in body and not (0 < len(body[name]) <= ENROLL_FIELD_MAX):
            raise ProtocolError("bad_request", "enroll: '%s' must be 1-%d characters" % (name, ENROLL_FIELD_MAX))


def check_config(cfg, role=None):
    """Validate a config dict (partial allowed) for a role (None: the common keys); returns
    it. Unknown keys are refused."""
    if not isinstance(cfg, dict):
        raise ProtocolError("bad_request", "config must be a JSON object")
    schema = role_config(role)
    for k, v in cfg.items():
        spec = schema.get(k)
        if spec is None:
            raise ProtocolError("bad_request", "config: unknown key '%s'" % k)
        if not _kind_ok(spec[0], v) or not (spec[1] <= v <= spec[2]):
            raise ProtocolError("bad_request", "config: '%s' must be %s in %d..%d" % (k, spec[0], spec[1], spec[2]))
    return cfg
