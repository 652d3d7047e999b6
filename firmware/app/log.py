# Console log: one line per message, easy to match in tests and on a serial console:
#   I 12.345 link: hello ok ack=3 cursor=5
# level (D/I/W/E), seconds since boot (ms precision), module, message.
# Never pass secrets to these functions.
import sys
import time
from micropython import const

_LEVELS = const("DIWE")
level = 1          # minimum level printed: 0 = D (debug) ... 3 = E
sink = None        # optional callable(line) that receives every printed line

_last = time.ticks_ms()
_up = 0


def uptime_ms():
    """Milliseconds since this module was imported (first thing after boot.py).

    Accumulated across ticks wrap-around; the supervisor calls it every second."""
    global _last, _up
    now = time.ticks_ms()
    _up += time.ticks_diff(now, _last)
    _last = now
    return _up


def _emit(lv, name, msg):
    if _LEVELS.index(lv) < level:
        return
    ms = uptime_ms()
    line = "%s %d.%03d %s: %s" % (lv, ms // 1000, ms % 1000, name, msg)
    print(line)
    if sink is not None:
        sink(line)


def d(name, msg):
    _emit("D", name, msg)


def i(name, msg):
    _emit("I", name, msg)


def w(name, msg):
    _emit("W", name, msg)


def e(name, msg):
    _emit("E", name, msg)


def describe(ex, n=200):
    """'ValueError: bad thing', cut to n characters (the protocol's string limit)."""
    s = "%s: %s" % (type(ex).__name__, ex)
    return s[:n]


def exc(name, msg, ex):
    """Log an exception with its traceback on the console."""
    _emit("E", name, "%s: %s" % (msg, describe(ex)))
    sys.print_exception(ex)
