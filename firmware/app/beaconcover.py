# The manhole cover's part of the beacon role (roles/beacon.py; docs/facilities.md): battery,
# deep sleep. The accelerometer's motion interrupt - armed before each sleep (arm_motion) - is
# wired to the board's wake pin (the `button` pin of the board definition; ext0), so a lifted or
# tilted cover wakes the board at once; reading the chip releases its latched line
# (motion_seen), and no button driver is made for that line (roles/beacon.WAKE_PIN_IS_BUTTON).
# The angle between gravity now and at installation decides (beaconrules.Tilt: cover_open at
# tilt_deg, cover_closed when back). A timer wakes the board daily for the heartbeat and, while
# the cover is open, every 5 min to see it closed again.
import log
import beaconrules
from drivers import accel
from micropython import const

LOOK_MS = const(500)             # how often roles/beacon asks step() to look
SLEEPS = True                   # deep sleep between wakes (on battery)
_OPEN_CHECK_MS = const(300000)

role = None        # roles/beacon: rt, state, setting(), save()
_tilt = None
_acc = None        # the accelerometer's driver, once made
_armed = False     # its motion interrupt armed for the coming sleep


def setup(r):
    global role, _tilt
    role = r
    _tilt = beaconrules.Tilt(r.setting("tilt_deg"), bool(r.state.get("open")))


def configure():
    _tilt.tilt_deg = role.setting("tilt_deg")


def step():
    global _acc
    rt, state = role.rt, role.state
    if _acc is None:
        _acc = accel.from_board(rt.board)
    a = _acc
    if a is None:
        return
    a.motion_seen()                      # releases the latched interrupt line that woke us
    v = a.read()
    base = state.get("base")
    if base is None:                     # first reading after installation: the installed angle
        state["base"] = [round(x, 4) for x in v]
        role.save()
        log.i("beacon", "installed angle recorded")
        return
    ang = accel.angle_deg(v, base)
    ev = _tilt.step(ang)
    if ev is not None:
        state["open"] = 1 if ev == "cover_open" else 0
        role.save()
        d = {"tilt_deg": round(ang, 1)}
        if ev == "cover_open" and rt.battery is not None:
            b = rt.battery.read()
            if b is not None:
                d["battery_v"] = b
        rt.emit(ev, d)
        log.w("beacon", "%s tilt=%.1f" % (ev, ang))


def before_sleep():
    global _armed
    if _acc is not None and not _armed:
        try:
            _acc.arm_motion()
            _armed = True
        except OSError as ex:            # no wake by motion: the timer still wakes it daily
            log.exc("beacon", "arm motion", ex)


def next_wake_ms(heartbeat_ms):
    return min(heartbeat_ms, _OPEN_CHECK_MS) if role.state.get("open") else heartbeat_ms
