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

# Limits (the fleet's own in validate.py; the config's in devconfig.py).
MAX_EVENTS = 50           # events per batch
MAX_STR = 200             # characters of any string value inside event data / hello
MAX_ERRORS = 5            # error strings carried by one hello

RESET_CAUSES = ("power_on", "hard", "wdt", "deepsleep", "soft", "brownout", "unknown")
WAKE_REASONS = ("none", "timer", "pin", "ext1", "touch", "ulp", "unknown")

# The device config the fleet pushes (CONFIG, default_config, merge_config and the field kinds)
# is in devproto/devconfig.py: a device needs it only while it reads or applies its config.


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


# ---- validators ------------------------------------------------------------
# ERRORS, EVENT_TYPES, HELLO_FIELDS, ENROLL_FIELDS, ProtocolError and the check_*
# functions live in devproto/validate.py. They are the fleet's side of the protocol; a
# device does not need them in RAM (~8 KB of heap on a 64-bit build). CPython imports
# them (and devconfig.py's names) here at once, so devproto.check_batch,
# devproto.CONFIG etc. work as before; MicroPython loads them on first use through the
# module __getattr__ below (the firmware itself imports devconfig while it needs it).
import sys as _sys

if _sys.implementation.name == "micropython":
    def __getattr__(name):
        if name == "ota":                   # `from devproto import ota`: the OTA manifests
            import devproto.ota
            return _sys.modules["devproto.ota"]
        for sub in ("devproto.devconfig", "devproto.validate"):
            __import__(sub)
            v = _sys.modules[sub].__dict__
            if name in v:
                return v[name]
        raise AttributeError(name)
else:
    from devproto.devconfig import *  # noqa: E402,F401,F403
    from devproto.devconfig import _kind_ok  # noqa: E402,F401
    from devproto.validate import *  # noqa: E402,F401,F403
