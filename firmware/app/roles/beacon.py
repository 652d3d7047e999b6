# Facility beacon role (docs/facilities.md): one role, two kinds of asset, each in a module of
# its own that only its boards load - beaconcover.py (manhole cover: battery, deep sleep, woken
# by the accelerometer's interrupt; cover_open / cover_closed) and beaconlamp.py (streetlight:
# mains, awake, the lamp against its dusk-to-dawn schedule; lamp_fault / day_burning / lamp_ok).
# This module is what both share: the settings, the kept state, the heartbeat, BLE advertising
# (bleadv.py: Eddystone-URL with the asset's public URL and Eddystone-UID with its id) and the
# loop that asks the kind's module to look every half second (cover) or 10 s (lamp).
#
# What the fleet says about the asset arrives as down.beacon (devproto/beacon.py: type, url, uid,
# tilt_deg, ...) and is kept in /state/beacon.json; config.json "beacon" ("manhole_cover" |
# "streetlight") says the kind before the fleet has.
import sys
import log
import store
from micropython import const

WAKE_PIN_IS_BUTTON = False      # a cover's wake pin is the accelerometer's interrupt (startup.py)
_F = const("/state/beacon.json")

rt = None
# Kept (RTC memory and flash): {"set": settings from down.beacon, "base": [x, y, z] installed,
# "open": 0/1, "lamp": the lamp's fault or None}; the kind's module reads and writes it too.
state = {}
cfg = {}           # every setting: the fleet's (state["set"]) over devproto/beacon.py's defaults
part = None        # beaconcover or beaconlamp
_busy = True
_adv = None
_gen = -1


def save():
    rt.rtc.set("bc", state)
    store.write_json(_F, state)


def setting(name):
    return cfg[name]


def _adopt(got=None):
    """cfg from the kept settings, or from a new down.beacon (got) checked first; True when
    they changed. devproto/beacon.py is loaded for the moment, as config.py loads devconfig:
    a beacon needs it at start-up and when the fleet sends new settings."""
    global cfg
    __import__("devproto.beacon")
    spec = sys.modules.pop("devproto.beacon")
    sys.modules["devproto"].__dict__.pop("beacon", None)    # (import made it an attribute)
    kept = state.get("set") or {}
    clean = kept if got is None else spec.check_beacon(got)
    merged = {}
    for k in spec.BEACON:
        v = clean.get(k)
        merged[k] = spec.BEACON[k][3] if v is None else v
    cfg = merged
    if clean == kept:
        return False
    state["set"] = clean
    return True


def kind():
    return setting("type") or rt.cfg.get("beacon") or ("manhole_cover" if rt.battery_powered else "streetlight")


def setup(r):
    global rt, state, part
    rt = r
    s = rt.rtc.get("bc")
    state = s if isinstance(s, dict) else store.read_json(_F, None) or {}
    _adopt()
    part = __import__("beaconcover" if kind() == "manhole_cover" else "beaconlamp")
    part.setup(sys.modules[__name__])
    log.i("beacon", "%s open=%d lamp=%s" % (kind(), state.get("open", 0), state.get("lamp")))


def _settings():
    """Adopt down.beacon when the link brought a new one."""
    global _gen
    link = rt.link
    if link is None or link.gen == _gen:
        return
    _gen = link.gen
    got = getattr(link, "beacon", None)
    if isinstance(got, dict) and _adopt(got):
        clean = state["set"]
        part.configure()
        save()
        log.i("beacon", "settings %s" % " ".join("%s=%s" % (k, clean[k]) for k in sorted(clean)))
        _advertise(True)


def _heartbeat():
    d = {"interval_min": rt.cfg["heartbeat_min"]}
    v = rt.battery.read() if rt.battery is not None else None
    if v is not None:
        d["battery_v"] = v
    rt.emit("heartbeat", d)


def _advertise(force=False):
    """BLE on mains, or when the fleet asks for it on battery; see bleadv.py."""
    global _adv
    ms = setting("adv_ms")
    if not ms or (rt.battery_powered and not force and _adv is None and kind() == "manhole_cover"
                  and not (state.get("set") or {}).get("adv_ms")):
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
        part.step()
        if rt.due("heartbeat", rt.cfg["heartbeat_min"] * 60):
            _heartbeat()
        if _adv is None:
            _advertise()
        elif not part.SLEEPS:
            _adv.turn()                  # awake: URL, UID, URL, ... a frame a look
        _busy = False
        await asyncio.sleep_ms(part.LOOK_MS)


def should_sleep():
    if not rt.battery_powered or _busy or not part.SLEEPS:
        return False
    _settings()                  # what the last reply brought is kept before the board sleeps
    part.before_sleep()
    return True


def next_wake_ms():
    return max(1000, part.next_wake_ms(rt.ms_until("heartbeat", rt.cfg["heartbeat_min"] * 60)))


def self_test():
    return True, "%s open=%d lamp=%s" % (kind(), state.get("open", 0), state.get("lamp"))
