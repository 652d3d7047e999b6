# FAKE time module for firmware unit tests on the plain unix port: the built-in time
# plus a settable wall clock, so machine.RTC().datetime(...) (fakehw/machine.py) moves
# time.time() as it does on the ESP32. The epoch stays the unix port's (1970); the
# virtual board (boards/virtual/shims/time.py) has the ESP32's 2000 epoch.
import sys
_p = sys.path
sys.path = ()
try:
    from time import *    # noqa: F401,F403 - ticks_ms, sleep_ms, mktime ...
    import time as _bt
finally:
    sys.path = _p
    del _p

OFFSET = [0]              # seconds added to the host clock, set through RTC.datetime


def time():
    return _bt.time() + OFFSET[0]


def time_ns():
    return _bt.time_ns() + int(OFFSET[0] * 1000000000)


def gmtime(secs=None):
    return _bt.gmtime(int(time()) if secs is None else secs)


localtime = gmtime


def set_wall(unix):
    OFFSET[0] = unix - _bt.time()
