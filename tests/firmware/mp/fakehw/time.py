# FAKE time module for firmware unit tests on the plain unix port: the ESP32 port's time -
# whole seconds since 2000-01-01 (its epoch) from a wall clock that machine.RTC().datetime()
# sets (fakehw/machine.py: OFF) - over the unix port's own (ticks_ms, sleep_ms ... re-exported
# from the built-in, reached by its other name utime). Integers only, as on the ESP32 (its
# time.time() is an integer): a single-precision build's float would hold ~1.8e9 s to 128 s.
from utime import *    # noqa: F401,F403
import utime

_EPOCH = 946684800
OFF = [-_EPOCH * 1000000000]     # board ns = host Unix ns + OFF[0]: starts right, in 2000 terms


def time():
    return time_ns() // 1000000000


def time_ns():
    return utime.time_ns() + OFF[0]


def gmtime(t=None):
    return utime.gmtime((time() if t is None else t) + _EPOCH)


localtime = gmtime


def mktime(t):
    return utime.mktime(t) - _EPOCH
