# Facility beacon role (docs/facilities.md): one role, two kinds of asset.
#
# Manhole cover (battery, deep sleep): the accelerometer's motion interrupt (armed before each
# sleep: drivers/accel.arm_motion) is wired to the board's wake pin (the `button` pin of the
# board definition; ext0), so a lifted or tilted cover wakes the board at once; reading the
# chip releases its latched line (motion_seen), and no button driver is made for it
# (WAKE_PIN_IS_BUTTON: its edges are not a person's presses). The angle
# between the gravity vector now and the one recorded at installation decides (beaconrules.Tilt: cover_open at tilt_deg, cover_closed when back). A
# timer wakes it daily for the heartbeat (battery_v) and, while the cover is open, every few
# minutes to see it closed again.
# Streetlight (mains, awake): every 10 s the light sensor (and the lamp current, when the board
# has a current sensor) against the dusk-to-dawn schedule - the fleet's minutes, or sunset and
# sunrise for the site (suntimes) - decide (beaconrules.Lamp: lamp_fault / day_burning / lamp_ok
# after lamp_debounce_s); a heartbeat daily. It advertises over BLE (bleadv.py): Eddystone-URL
# with the asset's public URL and Eddystone-UID with its id, alternating.
#
# What the fleet says about the asset arrives as down.beacon (devproto/beacon.py: type, url, uid,
# tilt_deg, ...) and is kept in /state/beacon.json; config.json "beacon" ("manhole_cover" |
# "streetlight") says the kind before the fleet has.
import sys
import time
import log
import store
import beaconrules
from micropython import const

WAKE_PIN_IS_BUTTON = False      # the wake pin is the accelerometer's interrupt (startup.py)
_F = const("/state/beacon.json")
_LAMP_S = const(10)             # streetlight: readings every 10 s
_OPEN_CHECK_MS = const(300000)  # manhole: while open, a timer wake every 5 min to see it closed

rt = None
_s = {}            # persisted: {"set": settings from down.beacon, "base": [x, y, z], "open": 0/1, "lamp": fault}
_busy = True
_tilt = None
_lamp = None
_adv = None
_gen = -1
_cfg = {}          # every setting: the fleet's (_s["set"]) over devproto/beacon.py's defaults
_acc = None        # the manhole's accelerometer driver, once made
_armed = False     # its motion interrupt armed for the coming sleep


def _save():
    rt.rtc.set("bc", _s)
    store.write_json(_F, _s)


def setting(name):
    return _cfg[name]


def _adopt(got=None):
    """_cfg from the kept settings, or from a new down.beacon (got) checked first; True when
    they changed. devproto/beacon.py is loaded for the moment, as config.py loads devconfig:
    a beacon needs it at start-up and when the fleet sends new settings."""
    global _cfg
    __import__("devproto.beacon")
    spec = sys.modules.pop("devproto.beacon")
    sys.modules["devproto"].__dict__.pop("beacon", None)    # (import made it an attribute)
    kept = _s.get("set") or {}
    clean = kept if got is None else spec.check_beacon(got)
    cfg = {}
    for k in spec.BEACON:
        v = clean.get(k)
        cfg[k] = spec.BEACON[k][3] if v is None else v
    _cfg = cfg
    if clean == kept:
        return False
    _s["set"] = clean
    return True


def kind():
    return setting("type") or rt.cfg.get("beacon") or ("manhole_cover" if rt.battery_powered else "streetlight")


def setup(r):
    global rt, _s, _tilt, _lamp
    rt = r
    s = rt.rtc.get("bc")
    _s = s if isinstance(s, dict) else store.read_json(_F, None) or {}
    _adopt()
    _tilt = beaconrules.Tilt(setting("tilt_deg"), bool(_s.get("open")))
    _lamp = beaconrules.Lamp(setting("lamp_debounce_s"), _s.get("lamp"))
    log.i("beacon", "%s open=%d lamp=%s" % (kind(), _s.get("open", 0), _s.get("lamp")))


def _settings():
    """Adopt down.beacon when the link brought a new one."""
    global _gen
    link = rt.link
    if link is None or link.gen == _gen:
        return
    _gen = link.gen
    got = getattr(link, "beacon", None)
    if isinstance(got, dict) and _adopt(got):
        clean = _s["set"]
        _tilt.tilt_deg = setting("tilt_deg")
        _lamp.debounce_s = setting("lamp_debounce_s")
        _save()
        log.i("beacon", "settings %s" % " ".join("%s=%s" % (k, clean[k]) for k in sorted(clean)))
        _advertise(True)


def _heartbeat():
    d = {"interval_min": rt.cfg["heartbeat_min"]}
    v = rt.battery.read() if rt.battery is not None else None
    if v is not None:
        d["battery_v"] = v
    rt.emit("heartbeat", d)


# ---- manhole cover -------------------------------------------------------------------------

def _cover():
    global _acc
    from drivers import accel
    if _acc is None:
        _acc = accel.from_board(rt.board)
    a = _acc
    if a is None:
        return
    a.motion_seen()                      # releases the latched interrupt line that woke us
    v = a.read()
    base = _s.get("base")
    if base is None:                     # first reading after installation: the installed angle
        _s["base"] = [round(x, 4) for x in v]
        _save()
        log.i("beacon", "installed angle recorded")
        return
    ang = accel.angle_deg(v, base)
    ev = _tilt.step(ang)
    if ev is not None:
        _s["open"] = 1 if ev == "cover_open" else 0
        _save()
        d = {"tilt_deg": round(ang, 1)}
        if ev == "cover_open" and rt.battery is not None:
            b = rt.battery.read()
            if b is not None:
                d["battery_v"] = b
        rt.emit(ev, d)
        log.w("beacon", "%s tilt=%.1f" % (ev, ang))


# ---- streetlight ---------------------------------------------------------------------------

def _schedule():
    """(on_min, off_min) local: the fleet's, else sunset/sunrise of the site ("night"/"day" polar)."""
    import suntimes
    off = setting("utc_offset_min")
    doy, minute = suntimes.day_of_year(rt.clock.now(), off)
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
    sensor = light.from_board(rt.board)
    lv = sensor.level() if sensor is not None else None
    amps = None
    p = rt.board.pin("current_adc")
    if p is not None:
        from machine import ADC, Pin
        adc = ADC(Pin(p), atten=ADC.ATTN_11DB)
        amps = adc.read_uv() / 1e6 * rt.board.get("current_a_per_v", 1.0)
    return lv, amps


def _streetlight():
    if not rt.clock.synced:
        return                           # no schedule without the time: wait for the fleet's
    lv, amps = _light()
    if lv is None and amps is None:
        return
    minute, should_on = _schedule()
    lit = amps * 1000 >= setting("lamp_on_ma") if amps is not None else lv >= setting("dark_pct") / 100
    ev = _lamp.step(time.ticks_ms(), should_on, lit, amps is not None)
    if ev is not None:
        _s["lamp"] = _lamp.state
        _save()
        d = {"light": round(lv or 0.0, 3)}
        if amps is not None:
            d["current_a"] = round(amps, 3)
        rt.emit(ev, d)
        log.w("beacon", "%s light=%.2f should_on=%d minute=%d" % (ev, lv or 0.0, should_on, minute))


def _advertise(force=False):
    """BLE on mains, or when the fleet asks for it on battery; see bleadv.py."""
    global _adv
    ms = setting("adv_ms")
    if not ms or (rt.battery_powered and not force and _adv is None and kind() == "manhole_cover"
                  and not (_s.get("set") or {}).get("adv_ms")):
        return
    if _adv is None:
        import bleadv
        _adv = bleadv.Advertiser()
    _adv.set(setting("url"), setting("uid"), ms)


async def run():
    global _busy
    import asyncio
    while True:
        _busy = True
        _settings()
        if kind() == "manhole_cover":
            _cover()
        else:
            _streetlight()
        if rt.due("heartbeat", rt.cfg["heartbeat_min"] * 60):
            _heartbeat()
        if _adv is None:
            _advertise()
        elif kind() == "streetlight":
            _adv.turn()
        _busy = False
        await asyncio.sleep_ms(_LAMP_S * 1000 if kind() == "streetlight" else 500)


def should_sleep():
    global _armed
    if not rt.battery_powered or _busy or kind() != "manhole_cover":
        return False
    _settings()                  # what the last reply brought is kept before the board sleeps
    if _acc is not None and not _armed:
        try:
            _acc.arm_motion()
            _armed = True
        except OSError as ex:    # no wake by motion: the timer still wakes it daily
            log.exc("beacon", "arm motion", ex)
    return True


def next_wake_ms():
    ms = rt.ms_until("heartbeat", rt.cfg["heartbeat_min"] * 60)
    if _s.get("open"):
        ms = min(ms, _OPEN_CHECK_MS)
    return max(1000, ms)


def self_test():
    return True, "%s open=%d lamp=%s" % (kind(), _s.get("open", 0), _s.get("lamp"))
