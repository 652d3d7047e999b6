# FAKE time module for firmware unit tests on the plain unix port: the ESP32 port's time -
# whole seconds since 2000-01-01 (its epoch) from a wall clock that machine.RTC().datetime()
# sets (fakehw/machine.py: OFF) - over the unix port's own (ticks_ms, sleep_ms ... re-exported
# from the built-in, reached by its other name utime).
from utime import *    # noqa: F401,F403
import utime

OFF = [-946684800.0]     # board seconds = host Unix seconds + OFF[0]: starts right, in 2000 terms


def time():
    return int(utime.time() + OFF[0])


def time_ns():
    return utime.time_ns() + int(OFF[0] * 1000000000)


def gmtime(t=None):
    return utime.gmtime((time() if t is None else t) + 946684800)


localtime = gmtime


def mktime(t):
    return utime.mktime(t) - 946684800
