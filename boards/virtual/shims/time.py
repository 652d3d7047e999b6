# Virtual board: the ESP32 port's `time`. The clock counts from 2000-01-01 00:00:00 (the
# ESP32 epoch) at power-on, keeps counting through deep sleep and resets, is set with
# machine.RTC().datetime(), and starts again from 2000 after a power cut. time.time() is an
# int, as on the ESP32. ticks_*() and sleep*() are the unix port's own.
import sys
_p = sys.path
sys.path = ()
try:
    from time import *    # noqa: F401,F403 - re-export ticks_ms, sleep_ms, ...
    import time as _bt
finally:
    sys.path = _p
    del _p
import _vb
import _vbsim


def _unix():
    return _bt.time() + _vb.rtc["offset"]


def time():
    return int(_unix()) - _vbsim.EPOCH_2000


def time_ns():
    return _bt.time_ns() + int(_vb.rtc["offset"] * 1000000000) - _vbsim.EPOCH_2000 * 1000000000


def gmtime(secs=None):
    return _vbsim.gmtime2000(time() if secs is None else secs)


def localtime(secs=None):
    return _vbsim.gmtime2000(time() if secs is None else secs)


def mktime(t):
    return _vbsim.mktime2000(t)


def _set_board_time(secs2000):
    off = secs2000 + _vbsim.EPOCH_2000 - _bt.time()
    _vb.rtc["offset"] = off
    _vb.send("clock", offset=off)
