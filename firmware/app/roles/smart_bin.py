# Smart bin role (docs/smart-bins.md). Every sample_min it measures the distance to the
# waste (ultrasonic or VL53L1X: 7 readings, outliers dropped, the median, speed of sound
# from the temperature), turns it into fill 0-100 % with a quality flag and applies the
# rules of binfill.py: `fill` on a change or every fill_report_h, `emptied`,
# `sensor_fault`, `fire` (an urgent event: the fleet raises an alarm). The accelerometer
# gives the tilt (a measurement with the lid open is skipped; tilted >= tilt_deg for
# tilt_s is `tilted`, back within it a `lid_open`: bintilt.py) and the temperature; its motion
# interrupt wakes the board from deep sleep (board.json pins.accel_int, ext1). A sample
# with nothing to report is a quiet wake: no Wi-Fi, no hello (rt.quiet). State in RTC
# memory ("sb"). Integers only: mm, tenths of a degree, Unix seconds.
import time
import asyncio
import log
import binfill
from micropython import const

_N = const(7)                   # readings per measurement
_LEVEL_DEG = const(20)          # above this the sensor is not looking at the waste
_TOF_BLIND_MM = const(40)       # VL53L1X: nothing reliable closer

rt = None
_s = {}
_busy = True
_acc = None                     # accelerometer, or None (False: failed this wake)
_armed = False                  # its motion interrupt and the wake on it armed in this wake
_tilt = None                    # degrees at the last reading


def setup(r):
    global rt, _s, _armed
    rt = r
    _armed = False
    from devproto.binconfig import KEYS
    rt.config.add_keys(KEYS)                    # the bin's keys, then what the fleet pushed
    _drop("devproto.binconfig")                 # the keys stay, the module goes
    s = rt.rtc.get("sb")
    _s = s if isinstance(s, dict) else {}
    rt.quiet = rt.battery_powered and rt.clock.synced


def _drop(*names):
    """Forget modules used for a moment (their code and objects go at the next collection)."""
    import sys
    for n in names:
        if sys.modules.pop(n, None) is not None and "." in n:
            pkg, leaf = n.rsplit(".", 1)
            sys.modules[pkg].__dict__.pop(leaf, None)   # (the import made it an attribute)


def _save():
    rt.rtc.set("sb", _s)


def _accel():
    global _acc
    if _acc is None:
        _acc = False
        try:
            from drivers import accel
            _acc = accel.from_board(rt.board) or False
        except Exception as ex:                 # (OSError: no device on the bus)
            _fault("accel", ex)
    return _acc or None


def _fault(what, ex):
    log.exc("bin", what, ex)
    if _s.get("hw") != what:                    # once until it works again
        _s["hw"] = what
        rt.emit("sensor_fault", {"kind": "i2c" if what == "accel" else "sensor",
                                 "detail": "%s: %s" % (what, log.describe(ex))})


def _read():
    """(tilt degrees, temperature c10) from the accelerometer, None for what is missing."""
    global _tilt
    a = _accel()
    if a is None:
        return None, None
    try:
        from drivers import accel
        _tilt = int(accel.tilt_deg(a.read()))
        return _tilt, (a.temp_c10() if hasattr(a, "temp_c10") else None)
    except OSError as ex:
        _fault("accel", ex)
        return None, None


async def _measure(c10, now):
    c = rt.cfg
    b = rt.board
    try:
        if b.get("tof"):
            from drivers import tof
            sen = tof.from_board(b)
            r = await sen.ranges_mm(_N)
            blind = _TOF_BLIND_MM
        else:
            from drivers import ultrasonic
            sen = ultrasonic.from_board(b)
            if sen is None:
                raise OSError("no distance sensor in board.json")
            r = await sen.echoes_mm(_N, 200 if c10 is None else c10)
            blind = int(sen.blind_cm * 10)
    except OSError as ex:
        _fault("sensor", ex)
        return
    finally:
        sen = tof = ultrasonic = None           # the driver goes with its module: the report
        _drop("drivers.tof", "drivers.ultrasonic")  # that may follow needs the room
    if _s.get("hw") == "sensor":
        _s["hw"] = None
    d = c["bin_depth_mm"] + c["sensor_offset_mm"]
    mm, q = binfill.judge(r, blind, d + d // 10 + 50)
    log.i("bin", "distance %s mm %s readings %s" % (mm, q, r))
    for kind, data in binfill.measured(_s, mm, q, now, c):
        if kind == "fill":
            if c10 is not None:
                data["temp_c"] = c10 / 10
            if _tilt is not None:
                data["tilt"] = _tilt
            v = rt.battery.read() if rt.battery is not None else None
            if v is not None:
                data["battery_v"] = v
        rt.emit(kind, data)


async def _work():
    c = rt.cfg
    now = rt.clock.now()
    deg, c10 = _read()
    if deg is not None and (deg >= c["tilt_deg"] or _s.get("tr")):
        import bintilt
        await bintilt.watch(rt, _s, deg, lambda: _read()[0])
        del bintilt                             # (the local name would keep it alive)
        _drop("bintilt")
    if c10 is not None:
        f = binfill.fire(_s, c10, now, c)
        if f is not None:
            log.w("bin", "fire %s" % f)
            rt.emit("fire", f)
        _s["w"] = 1 if binfill.watching(_s, c10, c) else 0
    if rt.due("sample", c["sample_min"] * 60):
        if deg is not None and deg >= _LEVEL_DEG:
            log.i("bin", "tilted %d deg: not measuring" % deg)
        else:
            await _measure(c10, now)
    _save()


async def run():
    global _busy
    if not rt.config.enrolled():
        # first boot: enrollment's TLS exchange done before the first measurement, not
        # beside it (a small heap has room for one of them at a time)
        await rt.link.wait_settled(15000)
    while True:
        _busy = True
        await _work()
        _busy = False
        await asyncio.sleep_ms(min(next_wake_ms(), 60000))


def should_sleep():
    if _busy or not rt.battery_powered:
        return False
    global _armed
    a, p = _acc, rt.board.pin("accel_int")
    if a and p is not None and not _armed:      # motion wakes it (knocked over, lid): armed once
        _armed = True                           # (the runtime asks every 100 ms until it sleeps)
        try:
            a.arm_motion()
            import esp32
            from machine import Pin
            esp32.wake_on_ext1((Pin(p, Pin.IN),), esp32.WAKEUP_ANY_HIGH)
        except Exception as ex:
            log.exc("bin", "motion wake", ex)
    return True


def next_wake_ms():
    ms = rt.ms_until("sample", rt.cfg["sample_min"] * 60)
    if _s.get("w"):
        ms = min(ms, 60000)                     # a fire watch: every minute
    return max(1000, ms)


def self_test():
    return True, "fill=%s q=%s" % (_s.get("lf"), _s.get("sf") or "ok")
