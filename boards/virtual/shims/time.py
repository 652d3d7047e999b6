# Virtual board: the ESP32 port's `time`. The clock counts from 2000-01-01 00:00:00 (the
# ESP32 epoch) at power-on, keeps counting through deep sleep and resets, is set with
# machine.RTC().datetime(), and starts again from 2000 after a power cut. time.time() is an
# int, as on the ESP32. sleep*() are the unix port's own.
#
# ticks_ms/ticks_us/ticks_cpu wrap at 2**30 as on the ESP32, not at the unix port's 2**62:
# extmod/modtime.c time_ticks_ms() masks with MICROPY_PY_TIME_TICKS_PERIOD, which is
# MP_SMALL_INT_POSITIVE_MASK + 1 (py/mpconfig.h): 2**30 with the ESP32's 31-bit small ints.
# ports/esp32/mphalport.c mp_hal_ticks_ms() is esp_timer_get_time() / 1000 and ticks_us
# the same microsecond counter, so ticks_ms wraps every 12.4 days and ticks_us every 17.9
# minutes. The host starts that counter a few seconds to a minute before ticks_ms wraps
# (world key ticks_wrap_in_ms), so every run crosses the wrap. ticks_add/ticks_diff follow
# modtime.c time_ticks_add()/time_ticks_diff(), OverflowError included. asyncio keeps the
# interpreter's own ticks (its C task queue compares with the unix port's period); the
# firmware only hands it durations.
import sys
_p = sys.path
sys.path = ()
try:
    from time import *    # noqa: F401,F403 - re-export sleep_ms, ...
    import time as _bt
finally:
    sys.path = _p
    del _p
import _vb
import _vbsim

_PERIOD = 1 << 30
_MASK = _PERIOD - 1
_HALF = _PERIOD >> 1


def _us():
    r = _vb.rtc
    return r.get("ticks_us", 0) + _bt.ticks_diff(_bt.ticks_us(), r.get("ticks_base", 0))


def ticks_us():
    return _us() & _MASK


def ticks_ms():
    return (_us() // 1000) & _MASK


def ticks_cpu():
    return _bt.ticks_cpu() & _MASK


def ticks_diff(end, start):
    return ((end - start + _HALF) & _MASK) - _HALF


def ticks_add(ticks, delta):
    if not -_HALF < delta < _HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & _MASK


# Integers only, as the ESP32 keeps its time: a single-precision build's float would hold the
# ~1.8e9 s of a Unix time to 128 s (the offset to the host's clock is in integer ms).
def time():
    return time_ns() // 1000000000


def time_ns():
    return _bt.time_ns() + (_vb.rtc["offset_ms"] - _vbsim.EPOCH_2000 * 1000) * 1000000


def gmtime(secs=None):
    return _vbsim.gmtime2000(time() if secs is None else secs)


def localtime(secs=None):
    return _vbsim.gmtime2000(time() if secs is None else secs)


def mktime(t):
    return _vbsim.mktime2000(t)


def _set_board_time(secs2000, us=0):
    off = (secs2000 + _vbsim.EPOCH_2000) * 1000 + us // 1000 - _bt.time_ns() // 1000000
    _vb.rtc["offset_ms"] = off
    _vb.send("clock", offset_ms=off)
