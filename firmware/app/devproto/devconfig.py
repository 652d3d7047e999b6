# The device config the fleet pushes (down.config, docs/protocol.md "Device config"): its keys
# with their kinds, limits and defaults, and the device's merge of a pushed config. One
# definition for both sides, like the rest of devproto; apart from __init__ so that a device
# loads it only while it reads or applies its config (start-up, a config push: config.py) and
# drops it after (~1 KB of heap on the 64-bit unix port). CPython sees every name here as
# devproto.NAME.
from devproto import MAX_STR

MAX_POLL_WAIT = 60        # seconds a long-poll may be held
INT_MIN = -2147483648     # every "int" field is a JSON integer in INT_MIN..INT_MAX
INT_MAX = 4294967295      # (32-bit: what a device can hold; stored safely by any database)

# Field kinds used by the schemas (here and in validate.py).
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


def default_config(schema=None):
    """Every key of schema (CONFIG, or CONFIG with a role's own keys) with its default."""
    return dict((k, v[3]) for k, v in (schema or CONFIG).items())


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


def merge_config(current, pushed, schema=None):
    """Apply a pushed config on top of current, keeping only the keys of schema (CONFIG, or
    CONFIG with a role's own keys) with valid values (device side)."""
    out = dict(current)
    for k, v in pushed.items():
        spec = (schema or CONFIG).get(k)
        if spec is not None and _kind_ok(spec[0], v) and spec[1] <= v <= spec[2]:
            out[k] = v
    return out
