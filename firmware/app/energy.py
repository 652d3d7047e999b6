# Battery model of the call button (docs/call-button.md, "Energy model"): one CR123A
# lithium-manganese-dioxide cell, 3.0 V nominal, 1500 mAh. Voltage -> charge left,
# an average daily consumption from the wake schedule, -> days of reserve; and the
# call button's heartbeat with its battery_low report. Plain Python: the firmware
# loads it once per heartbeat (and drops it again); benchmarks and docs import the
# same numbers on CPython. The numbers are const(): on MicroPython they are folded
# into the code, not module names (each name would stay in the qstr pool).
try:
    from micropython import const
except ImportError:             # CPython
    def const(x):
        return x

_CAPACITY_MAH = const(1500)
_USABLE = const(0.9)            # to the 2.6 V end point, less ~1 %/year self-discharge
# (volts at light load, share of the usable charge left): Li-MnO2 is flat near
# 3.0 V for most of its life, then falls at a knee around 2.8-2.7 V.
_CURVE = const(((3.10, 1.0), (3.00, 0.85), (2.90, 0.45), (2.80, 0.12), (2.70, 0.03), (2.60, 0.0)))

# Currents and times assumed (ESP32 module on a low-quiescent regulator; the virtual
# board measures awake time, never current).
_SLEEP_UA = const(15)           # deep sleep, whole board: ESP32 RTC ~10 uA + regulator/divider
_AWAKE_MA = const(100)          # awake, Wi-Fi connecting / sending (TX peaks ~240 mA)
_WAIT_MA = const(35)            # awake, long-polling for an answer (Wi-Fi modem sleep)
_WAKE_S = const(4.0)            # one wake: boot 0.3 s, Wi-Fi (cached AP) ~1 s, TLS ~2 s, hello+events
_PRESS_S = const(4.0)           # delivering an alarm (the same steps)
_ANSWER_S = const(60.0)         # mean wait awake for a caregiver's answer (at most answer_wait_s)
_PRESSES_PER_WEEK = const(2)


def fraction(v):
    """Share (0..1) of the usable charge left at cell voltage v (piecewise linear)."""
    c = _CURVE
    if v >= c[0][0]:
        return 1.0
    for i in range(1, len(c)):
        v1, f1 = c[i]
        if v >= v1:
            v0, f0 = c[i - 1]
            return f1 + (f0 - f1) * (v - v1) / (v0 - v1)
    return 0.0


def daily_mah(heartbeat_min=1440, answer_s=_ANSWER_S):
    """Average charge used per day (mAh): sleep + heartbeat wakes + presses (answer_s: the
    mean wait awake for an answer)."""
    mas = (1440.0 / heartbeat_min) * _WAKE_S * _AWAKE_MA \
        + _PRESSES_PER_WEEK / 7.0 * (_PRESS_S * _AWAKE_MA + answer_s * _WAIT_MA)
    return _SLEEP_UA * 24 / 1000.0 + mas / 3600.0


def days_left(v, heartbeat_min=1440):
    """Days of reserve at cell voltage v with this heartbeat interval."""
    return int(fraction(v) * _CAPACITY_MAH * _USABLE / daily_mah(heartbeat_min))


def life_days(**kw):
    """Days a fresh cell lasts (the arguments of daily_mah)."""
    return _CAPACITY_MAH * _USABLE / daily_mah(**kw)


def heartbeat(rt, state):
    """Emit the heartbeat (battery_v, interval_min, rssi) and, once, battery_low when
    the reserve is down to low_battery_days (state["bl"] remembers it; cleared when a
    new cell shows twice that reserve). Returns True when state changed."""
    import log
    p = rt.cfg["heartbeat_min"]
    d = {"interval_min": p}
    v = rt.battery.read() if rt.battery is not None else None
    if v is not None:
        d["battery_v"] = v
    w = rt.wifi
    r = w.rssi() if w is not None and w.isconnected() else None
    if isinstance(r, int):
        d["rssi"] = r
    rt.emit("heartbeat", d)
    if v is None:
        return False
    days = days_left(v, p)
    lim = rt.cfg["low_battery_days"]
    if days <= lim and not state.get("bl"):
        rt.emit("battery_low", {"battery_v": v, "days_left": days})
        log.w("button", "battery low %.3f V days_left=%d" % (v, days))
        state["bl"] = 1
        return True
    if state.get("bl") and days > 2 * lim:
        log.i("button", "battery replaced %.3f V days_left=%d" % (v, days))
        state["bl"] = 0
        return True
    return False
