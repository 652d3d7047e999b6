# The streetlight's part of the beacon role (roles/beacon.py; docs/facilities.md): mains, awake.
# Every 10 s the light sensor (and the lamp current, when the board has a current sensor)
# against the dusk-to-dawn schedule - the fleet's minutes, or sunset and sunrise for the site
# (suntimes) - decide (beaconrules.Lamp: lamp_fault / day_burning / lamp_ok after
# lamp_debounce_s). No schedule without the fleet's time. suntimes and the light driver are
# loaded for each look and dropped after it: a look every 10 s, and ~2.5 KB of heap between.
import sys
import time
import log
import beaconrules
from micropython import const

LOOK_MS = const(10000)           # how often roles/beacon asks step() to look
SLEEPS = False                  # awake all the time: it watches a schedule

role = None        # roles/beacon: rt, state, setting(), save()
_lamp = None


def setup(r):
    global role, _lamp
    role = r
    _lamp = beaconrules.Lamp(r.setting("lamp_debounce_s"), r.state.get("lamp"))


def configure():
    _lamp.debounce_s = role.setting("lamp_debounce_s")


def _drop(name, pkg=None):
    sys.modules.pop(name, None)
    if pkg is not None:
        sys.modules[pkg].__dict__.pop(name.rsplit(".", 1)[1], None)


def _schedule():
    """(minute, should_be_on) local: the fleet's on/off minutes, else sunset/sunrise of the site."""
    import suntimes
    try:
        return _on_at(suntimes)
    finally:
        _drop("suntimes")


def _on_at(suntimes):
    setting = role.setting
    off = setting("utc_offset_min")
    doy, minute = suntimes.day_of_year(role.rt.clock.now(), off)
    on_min, off_min = setting("lamp_on_min"), setting("lamp_off_min")
    if on_min < 0 or off_min < 0:
        sun = suntimes.sun_minutes(doy, setting("lat_e4") / 10000, setting("lon_e4") / 10000, off)
        if sun == "night":
            return minute, True
        if sun == "day":
            return minute, False
        on_min = sun[1] if on_min < 0 else on_min
        off_min = sun[0] if off_min < 0 else off_min
    return minute, suntimes.lamp_should_be_on(minute, on_min, off_min)


def _light():
    from drivers import light
    board = role.rt.board
    try:
        sensor = light.from_board(board)
        lv = sensor.level() if sensor is not None else None
    finally:
        _drop("drivers.light", "drivers")
    amps = None
    p = board.pin("current_adc")
    if p is not None:
        from machine import ADC, Pin
        adc = ADC(Pin(p), atten=ADC.ATTN_11DB)
        amps = adc.read_uv() / 1e6 * board.get("current_a_per_v", 1.0)
    return lv, amps


def step():
    rt = role.rt
    if not rt.clock.synced:
        return                           # no schedule without the time: wait for the fleet's
    lv, amps = _light()
    if lv is None and amps is None:
        return
    minute, should_on = _schedule()
    setting = role.setting
    lit = amps * 1000 >= setting("lamp_on_ma") if amps is not None else lv >= setting("dark_pct") / 100
    ev = _lamp.step(time.ticks_ms(), should_on, lit, amps is not None)
    if ev is not None:
        role.state["lamp"] = _lamp.state
        role.save()
        d = {"light": round(lv or 0.0, 3)}
        if amps is not None:
            d["current_a"] = round(amps, 3)
        rt.emit(ev, d)
        log.w("beacon", "%s light=%.2f should_on=%d minute=%d" % (ev, lv or 0.0, should_on, minute))


def before_sleep():
    pass


def next_wake_ms(heartbeat_ms):
    return heartbeat_ms
