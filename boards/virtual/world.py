"""The simulated world around a virtual board: what the host can set, defaults and limits."""

from .errors import VBoardError

# key: (default, type, lower, upper, description)
WORLD = {
    "distance_cm": (120.0, "float?", 0.0, 1000.0,
                    "distance from the ultrasonic sensor to the target (null: nothing within range)"),
    "temp_c": (20.0, "float", -40.0, 125.0, "air temperature (speed of sound, MPU6050 temperature, die sensor)"),
    "tilt_deg": (0.0, "float", 0.0, 180.0, "tilt of the board from level"),
    "tilt_axis": ("x", "axis", None, None, "axis the board is tilted about: x, y, or an azimuth in degrees"),
    "vibration_g": (0.0, "float", 0.0, 16.0, "random shaking added to every accelerometer axis (g, peak)"),
    "battery_v": (3.0, "float", 0.0, 6.0, "battery voltage (ADC pin sees battery_v / battery_divider)"),
    "light": (0.5, "float", 0.0, 1.0, "ambient light, 0 dark .. 1 full daylight (ADC pin sees light * light_full_v)"),
    "rssi": (-60, "int", -100, -20, "signal of the board's access point (dBm)"),
    "pin_v": ({}, "pinmap", None, None, "voltage on any other ADC pin, {gpio: volts}"),
    "bin_fill_pct": (None, "float?", 0.0, 150.0,
                     "fill of the bin the distance sensor looks into (%; over 100: heaped above the rim); "
                     "null: the sensor sees distance_cm"),
    "bin_depth_cm": (100.0, "float", 10.0, 400.0, "that bin's depth, rim to floor"),
    "bin_offset_cm": (0.0, "float", 0.0, 100.0, "height of the sensor above the bin's rim"),
    "district_bin": (None, "str?", None, None,
                     "follow a bin of the seeded virtual district, SEED:ID (e.g. 1:B0003; "
                     "boards/virtual/district.py): its fill sets bin_fill_pct as it fills"),
    "district_speed": (1.0, "float", 0.0, 1000000.0, "simulated seconds per real second for district_bin"),
    "ultrasonic": (None, "sensor?", None, None, "override the board's ultrasonic sensor model (jsn-sr04t, hc-sr04)"),
    "us_noise_cm": (0.3, "float", 0.0, 50.0, "ultrasonic distance jitter (cm, +/-)"),
    "adc_noise_mv": (2.0, "float", 0.0, 100.0, "ADC input noise (mV, +/-)"),
    "accel_noise_g": (0.002, "float", 0.0, 1.0, "accelerometer noise (g, +/-)"),
    "die_rise_c": (15.0, "float", 0.0, 60.0, "chip temperature above air temperature (internal sensor)"),
    "wifi_fast_ms": (300, "int", 0, 60000, "Wi-Fi connect time when the station config still names the AP's "
                     "channel (config(channel=), then connect() without arguments)"),
    "wifi_scan_ms": (1500, "int", 0, 60000, "Wi-Fi connect time scanning every channel (every connect(ssid, ...), "
                     "BSSID or not; the driver's own reconnects); also WLAN.scan() duration"),
    "wifi_loss_ms": (1000, "int", 0, 60000, "time for the board to notice its access point is gone"),
    "ap_ssid": (None, "str?", None, None, "SSID of the simulated access point (default: the board's config)"),
    "ap_password": (None, "str?", None, None, "password of the simulated access point (default: the board's config)"),
    "ap_channel": (6, "int", 1, 13, "channel of the simulated access point"),
    "brownout_below_v": (0.0, "float", 0.0, 6.0,
                         "battery voltage under which a Wi-Fi transmit browns the chip out (0: never)"),
    "ticks_wrap_in_ms": (None, "int?", 0, 536870911,
                         "time.ticks_ms() wraps this long after each chip reset (null: 5-60 s, random)"),
}


def defaults():
    return {k: (dict(v[0]) if isinstance(v[0], dict) else v[0]) for k, v in WORLD.items()}


def parse_value(key, text):
    """Parse a CLI value (`key=value`) into the type the world wants."""
    if key not in WORLD:
        raise VBoardError("unknown world key %r; known: %s" % (key, ", ".join(sorted(WORLD))))
    kind = WORLD[key][1]
    t = text.strip()
    if t.lower() in ("none", "null", "") and kind.endswith("?"):
        return None
    try:
        if kind.startswith("float"):
            return float(t)
        if kind == "int":
            return int(float(t))
        if kind == "axis":
            return t if t in ("x", "y") else float(t)
        if kind == "pinmap":
            out = {}
            for part in t.split(","):
                if part.strip():
                    pin, _, volts = part.partition(":")
                    out[str(int(pin))] = float(volts)
            return out
    except ValueError:
        raise VBoardError("%s: %r is not a valid %s" % (key, text, kind.rstrip("?")))
    return t


def validate(values):
    """Check world values; returns a normalised copy. Raises VBoardError naming every problem."""
    if not isinstance(values, dict):
        raise VBoardError("world values must be a dict")
    out = {}
    problems = []
    for key, value in values.items():
        if key not in WORLD:
            problems.append("unknown world key %r; known: %s" % (key, ", ".join(sorted(WORLD))))
            continue
        _default, kind, lo, hi, _doc = WORLD[key]
        if value is None and kind.endswith("?"):
            out[key] = None
            continue
        base = kind.rstrip("?")
        try:
            if base == "float":
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
            elif base == "int":
                if isinstance(value, bool):
                    raise ValueError
                value = int(value)
            elif base == "axis":
                if value not in ("x", "y"):
                    value = float(value)
            elif base == "pinmap":
                value = {str(int(k)): float(v) for k, v in dict(value).items()}
            elif base == "sensor":
                if value not in ("jsn-sr04t", "hc-sr04"):
                    raise ValueError
            elif base == "str":
                if not isinstance(value, str):
                    raise ValueError
        except (TypeError, ValueError):
            problems.append("%s: %r is not a valid %s" % (key, value, base))
            continue
        if lo is not None and isinstance(value, (int, float)) and not (lo <= value <= hi):
            problems.append("%s: %r is outside %s..%s" % (key, value, lo, hi))
            continue
        out[key] = value
    if problems:
        raise VBoardError("invalid world settings", problems=problems)
    return out
