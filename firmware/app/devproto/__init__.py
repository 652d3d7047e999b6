# Device protocol v1.1: the one definition shared by the firmware (MicroPython)
# and the fleet manager (CPython). Keep it plain: no typing, no f-string
# formatting specs MicroPython lacks, no CPython-only imports at top level.
# docs/protocol.md is the prose version; tests/protocol checks they agree.
# What only the fleet needs (its limits, ROLES, ALARM_STATES, COMMANDS, is_hex and the
# validators) is in devproto/validate.py: CPython imports it here at once, MicroPython
# on first use (see the end), so a device does not hold it in RAM.

import hashlib
import binascii

PREFIX = "/api/v1/device"
PATH_ENROLL = PREFIX + "/enroll"
PATH_HELLO = PREFIX + "/hello"
PATH_EVENTS = PREFIX + "/events"
PATH_POLL = PREFIX + "/poll"

# Request headers of a signed request.
H_DEVICE = "X-Device-Id"
H_TIME = "X-Timestamp"
H_NONCE = "X-Nonce"
H_SIG = "X-Signature"

# Protocol v1.1 (docs/protocol.md, "What changed in v1.1"): a device that sends
# X-Protocol-Version: 1.1 on a signed request (signed_headers) gets a signed reply - X-Server-Time
# (fixed format, parse_server_time) and X-Reply-Signature (reply_signature) over the
# request's nonce, the status, that time and the body. A request without the header is v1:
# unsigned replies. The names PROTOCOL, H_PROTOCOL and the reply headers' are in
# validate.py (the fleet's side): on a board every name costs heap.

# Limits (the fleet's own in validate.py).
MAX_EVENTS = 50           # events per batch
MAX_STR = 200             # characters of any string value inside event data / hello
MAX_ERRORS = 5            # error strings carried by one hello
MAX_POLL_WAIT = 60        # seconds a long-poll may be held
MIN_VALID_TIME = 1577836800  # 2020-01-01: device times before this mean "clock unknown"
INT_MIN = -2147483648     # every "int" field is a JSON integer in INT_MIN..INT_MAX
INT_MAX = 4294967295      # (32-bit: what a device can hold; stored safely by any database)

RESET_CAUSES = ("power_on", "hard", "wdt", "deepsleep", "soft", "brownout", "unknown")
WAKE_REASONS = ("none", "timer", "pin", "ext1", "touch", "ulp", "unknown")

# Field kinds used by the schemas below.
INT = "int"
NUM = "num"
STR = "str"
BOOL = "bool"

# Device config pushed by the fleet: key -> (kind, min, max, default).
CONFIG = {
    "heartbeat_min": (INT, 1, 1440, 1440),   # heartbeat interval, minutes
    "answer_wait_s": (INT, 0, 600, 120),     # call button stays awake for an answer
    "long_press_ms": (INT, 1000, 10000, 3000),
    "poll_wait_s": (INT, 5, MAX_POLL_WAIT, 25),
    "report_min": (INT, 1, 1440, 60),        # telemetry interval, minutes
    "low_battery_days": (INT, 30, 365, 30),  # reserve at which battery_low is sent
}


def default_config():
    return dict((k, v[3]) for k, v in CONFIG.items())


# ---- signing ---------------------------------------------------------------

try:  # CPython: the C implementation; MicroPython has no hmac module.
    import hmac as _hmac

    def hmac_sha256(key, msg):
        return _hmac.new(key, msg, hashlib.sha256).digest()
except ImportError:
    def hmac_sha256(key, msg):
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key + b"\x00" * (64 - len(key))
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        inner.update(msg)
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        outer.update(inner.digest())
        return outer.digest()


def hexstr(raw):
    return binascii.hexlify(raw).decode()


def body_hash(body):
    return hexstr(hashlib.sha256(body).digest())


def canonical(method, path, timestamp, nonce, body):
    """The bytes that are signed: method, path (with query), time, nonce, body hash."""
    return "\n".join((method.upper(), path, str(timestamp), nonce, body_hash(body))).encode()


def sign(secret_hex, method, path, timestamp, nonce, body):
    """Hex HMAC-SHA256 of the canonical request under the device secret."""
    key = binascii.unhexlify(secret_hex)
    return hexstr(hmac_sha256(key, canonical(method, path, timestamp, nonce, body)))


def signed_headers(device_id, secret_hex, method, path, timestamp, nonce, body):
    return {
        H_DEVICE: device_id,
        H_TIME: str(timestamp),
        H_NONCE: nonce,
        H_SIG: sign(secret_hex, method, path, timestamp, nonce, body),
        "X-Protocol-Version": "1.1",    # validate.H_PROTOCOL, PROTOCOL: v1.1, signed replies
        "Content-Type": "application/json",
    }


# ---- signed replies (v1.1) -------------------------------------------------------

def parse_server_time(text):
    """'1796031157.980' -> (1796031157, 980), anything else -> None. Integer parts only:
    an ESP32 float (single precision) would round the time to 128 s."""
    if not isinstance(text, str):
        return None
    i = text.find(".")
    if i < 1 or len(text) - i != 4 or i > 12:
        return None
    sec, frac = text[:i], text[i + 1:]
    if not (sec.isdigit() and frac.isdigit()):
        return None
    return int(sec), int(frac)


def reply_signature(key, nonce, status, t, body):
    """Hex HMAC-SHA256 of a reply under the device secret (key: the 32 raw bytes). What is
    signed, five lines: a fixed first line (never a request method), the request's nonce,
    the status, the reply's X-Server-Time t as sent, the body's hash."""
    msg = "REPLY\n%s\n%d\n%s\n%s" % (nonce, status, t, body_hash(body))
    return hexstr(hmac_sha256(key, msg.encode()))


# ---- device-side config ---------------------------------------------------

def _kind_ok(kind, v):
    if kind == BOOL:
        return v is True or v is False
    if v is True or v is False:
        return False
    if kind == INT:
        return isinstance(v, int) and INT_MIN <= v <= INT_MAX
    if kind == NUM:
        return isinstance(v, (int, float))
    if kind == STR:
        return isinstance(v, str) and len(v) <= MAX_STR
    if kind == "list":
        return isinstance(v, list)
    return False


def merge_config(current, pushed):
    """Apply a pushed config on top of current, keeping only known, valid keys (device side)."""
    out = dict(current)
    for k, v in pushed.items():
        spec = CONFIG.get(k)
        if spec is not None and _kind_ok(spec[0], v) and spec[1] <= v <= spec[2]:
            out[k] = v
    return out


# ---- validators ------------------------------------------------------------
# ERRORS, EVENT_TYPES, HELLO_FIELDS, ENROLL_FIELDS, ProtocolError and the check_*
# functions live in devproto/validate.py. They are the fleet's side of the protocol; a
# device does not need them in RAM (~8 KB of heap on a 64-bit build). CPython imports
# them here at once, so devproto.check_batch etc. work as before; MicroPython loads
# them on first use through the module __getattr__ below.
import sys as _sys

if _sys.implementation.name == "micropython":
    def __getattr__(name):
        if name == "ota":                   # `from devproto import ota`: the OTA manifests
            import devproto.ota
            return _sys.modules["devproto.ota"]
        import devproto.validate
        v = _sys.modules["devproto.validate"]
        if name in v.__dict__:
            return v.__dict__[name]
        raise AttributeError(name)
else:
    from devproto.validate import *  # noqa: E402,F401,F403
    from devproto.validate import _check_name  # noqa: E402,F401
