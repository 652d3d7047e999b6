# The smart bin's rules as plain functions (docs/smart-bins.md "On the board"): one
# measurement's readings -> a distance and a quality flag, the distance -> fill 0-100 %,
# and which events a measurement causes (fill, emptied, sensor_fault, fire). Integers
# only (mm, tenths of a degree, Unix seconds): an ESP32 float is single precision and a
# small int 31 bits. The role (roles/smart_bin.py) keeps the state dict `s` in RTC
# memory; the virtual district (boards/virtual/district.py) runs the same rules on
# CPython, so the simulated fleet sees what boards would send.
try:
    from micropython import const
except ImportError:             # CPython
    def const(x):
        return x

_TOL_MM = const(20)             # readings this close to the median agree (or 10 % of it)
_BAD_SAMPLES = const(4)         # bad measurements in a row before a sensor_fault
_WATCH_S = const(600)           # the fire rule's rise window


def median(v):
    """Integer median of a sorted non-empty list."""
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) // 2


def judge(readings, blind_mm, far_mm):
    """(distance mm or None, quality) of one measurement from its readings (mm, None for
    no echo). Outliers (farther than 20 mm or 10 % from the median) are dropped; fewer
    than half the readings agreeing is "unstable", none "no_echo"; inside the blind zone
    "too_close" (a bag under the sensor, or a wet sensor ringing); beyond far_mm (past
    the bin's floor: the lid is open or the sensor moved) "unstable"."""
    v = sorted(r for r in readings if r is not None)
    if not v:
        return None, "no_echo"
    m = median(v)
    tol = max(_TOL_MM, m // 10)
    v = [r for r in v if -tol <= r - m <= tol]
    if 2 * len(v) <= len(readings):
        return (median(v) if v else m), "unstable"
    m = median(v)
    if m < blind_mm:
        return m, "too_close"
    if m > far_mm:
        return m, "unstable"
    return m, "ok"


def fill_pct(mm, depth_mm, offset_mm):
    """0..100: how full, for a distance mm from a sensor offset_mm above the rim of a bin
    depth_mm deep (rounded; clamped, so a bag above the rim reads 100)."""
    p = ((depth_mm + offset_mm - mm) * 100 + depth_mm // 2) // depth_mm
    return 0 if p < 0 else 100 if p > 100 else p


def measured(s, mm, q, now, cfg):
    """Events [(type, data), ...] for one measurement; updates s. A fill report on a change
    of fill_delta_pct or after fill_report_h; `emptied` on a drop of empty_drop_pct; a
    sensor_fault once after 4 bad measurements in a row, or a distance that has not moved
    by more than 1 mm for stuck_h (a wet or iced sensor), cleared by a good reading."""
    out = []
    good = q in ("ok", "too_close")
    pct = fill_pct(mm, cfg["bin_depth_mm"], cfg["sensor_offset_mm"]) if good else None
    if mm is not None:
        sm = s.get("sm")
        if sm is None or not -1 <= mm - sm <= 1:
            s["sm"], s["ss"] = mm, now
            if s.get("sf") == "stuck":
                s["sf"] = None              # it moves again
        elif now - s["ss"] >= cfg["stuck_h"] * 3600 and s.get("sf") != "stuck":
            s["sf"] = "stuck"
            out.append(("sensor_fault", {"kind": "stuck", "detail": "%d mm for %d h" % (
                mm, (now - s["ss"]) // 3600)}))
    if good:
        s["bq"] = 0
        if s.get("sf") and s["sf"] != "stuck":
            s["sf"] = None                  # recovered: the next fill says so
        lf = s.get("lf")
        if lf is not None and lf - pct >= cfg["empty_drop_pct"]:
            out.append(("emptied", {"from": lf, "to": pct}))
        s["lf"] = pct
    else:
        s["bq"] = s.get("bq", 0) + 1
        if s["bq"] >= _BAD_SAMPLES and not s.get("sf"):
            s["sf"] = q
            out.append(("sensor_fault", {"kind": q, "detail": "%d bad measurements" % s["bq"]}))
    rf, rt = s.get("rf"), s.get("rt")
    due = rt is None or now - rt >= cfg["fill_report_h"] * 3600 or now < rt
    if out or due or (good and (rf is None or not -cfg["fill_delta_pct"] < pct - rf < cfg["fill_delta_pct"])):
        d = {"q": q}
        if pct is not None:
            d["pct"] = pct
            s["rf"] = pct
        if mm is not None:
            d["mm"] = mm
        out.append(("fill", d))
        s["rt"] = now
    return out


def fire(s, c10, now, cfg):
    """A `fire` event (or None) for a temperature of c10 tenths of a degree: at
    fire_temp_c, or a rise of fire_rise_c within 10 minutes of a kept reading. Reported
    once; re-armed when it is 20 degrees below the limit with no rise. Keeps the last
    10 minutes of readings in s["tc"] ([[t, c10], ...])."""
    tc = [r for r in s.get("tc") or () if 0 <= now - r[0] <= _WATCH_S]
    rise = max([c10 - r[1] for r in tc] or [0])
    tc.append([now, c10])
    s["tc"] = tc[-6:]
    hot = c10 >= cfg["fire_temp_c"] * 10
    if hot or rise >= cfg["fire_rise_c"] * 10:
        if s.get("fi"):
            return None
        s["fi"] = 1
        return {"temp_c": c10 / 10, "rise_c": rise / 10, "why": "threshold" if hot else "rise"}
    if s.get("fi") and c10 < (cfg["fire_temp_c"] - 20) * 10 and rise < 30:
        s["fi"] = 0
    return None


def watching(s, c10, cfg):
    """True while the temperature needs a reading every minute (a rise of 3 degrees since
    the last reading, or within 20 degrees of the limit): a 15-minute sample could not
    see a 10-minute rise."""
    tc = s.get("tc") or ()
    prev = tc[-2][1] if len(tc) > 1 else c10
    return c10 - prev >= 30 or c10 >= (cfg["fire_temp_c"] - 20) * 10 or bool(s.get("fi"))
