# Virtual board: the physics of the simulated world (plain Python that runs both on the
# MicroPython unix port, inside the shims, and on CPython, where tests check the numbers).
import math

EPOCH_2000 = 946684800          # Unix time of 2000-01-01 00:00:00 UTC (ESP32 time epoch)

# --- ADC --------------------------------------------------------------------------------
# Attenuation -> input voltage at full scale (the top of the range Espressif documents; the
# virtual ADC is linear up to it and saturates above it).
ADC_FULL_SCALE_V = {
    "esp32": {0: 0.95, 1: 1.25, 2: 1.75, 3: 2.45},
    "esp32c3": {0: 0.75, 1: 1.05, 2: 1.30, 3: 2.50},
}


def adc_full_scale(chip, atten):
    table = ADC_FULL_SCALE_V.get(chip) or ADC_FULL_SCALE_V["esp32"]
    return table.get(atten, table[0])


def adc_read(volts, chip, atten, bits=12, noise_v=0.0):
    """(raw reading at `bits`, calibrated microvolts) for an input voltage."""
    fs = adc_full_scale(chip, atten)
    v = volts + noise_v
    if v < 0:
        v = 0.0
    if v > fs:
        v = fs
    top = (1 << bits) - 1
    raw = int(v / fs * top + 0.5)
    if raw > top:
        raw = top
    return raw, int(v * 1000000 + 0.5)


def adc_u16(raw, bits):
    """MicroPython's scaling of a `bits`-bit reading to 0..65535."""
    return (raw << (16 - bits)) | (raw >> (2 * bits - 16))


# --- Ultrasonic distance (HC-SR04 / JSN-SR04T) ----------------------------------------------
ULTRASONIC = {
    # blind zone (cm) below which echoes are unreliable, maximum range (cm),
    # echo pulse held high when nothing answers (us), trigger -> echo start delay (us)
    "jsn-sr04t": {"blind_cm": 23.0, "max_cm": 600.0, "no_echo_us": 38000, "delay_us": 300},
    "hc-sr04": {"blind_cm": 2.0, "max_cm": 400.0, "no_echo_us": 38000, "delay_us": 300},
}


def sound_speed(temp_c):
    """Speed of sound in air, m/s (331.3 + 0.606 * T)."""
    return 331.3 + 0.606 * temp_c


def echo_us(distance_cm, temp_c, sensor="jsn-sr04t", noise_cm=0.0, rand=None):
    """Echo pulse width (us) the sensor gives for a target at distance_cm.

    None or beyond max range: the sensor's no-echo pulse. Inside the blind zone the echo is
    unreliable: it reports a distance somewhere in [blind, blind + 15 cm] (ringing of the
    transducer), never the true one. `rand` is a function returning a float in [0, 1).
    """
    spec = ULTRASONIC.get(sensor) or ULTRASONIC["jsn-sr04t"]
    if rand is None:
        rand = _half
    if distance_cm is None or distance_cm > spec["max_cm"] or distance_cm != distance_cm:
        return spec["no_echo_us"]
    d = float(distance_cm)
    if d < spec["blind_cm"]:
        d = spec["blind_cm"] + 15.0 * rand()
    else:
        d = d + noise_cm * (2.0 * rand() - 1.0)
    if d < 0.5:
        d = 0.5
    return int(2.0 * (d / 100.0) / sound_speed(temp_c) * 1000000 + 0.5)


def _half():
    return 0.5


def target_cm(world):
    """How far a distance sensor sees: with bin_fill_pct set, the waste's surface in a bin
    bin_depth_cm deep, the sensor bin_offset_cm above the rim (heaped above the rim, closer
    still); else distance_cm (None: nothing within range)."""
    fill = world.get("bin_fill_pct")
    if fill is None:
        return world.get("distance_cm")
    depth = world.get("bin_depth_cm") or 100.0
    d = (world.get("bin_offset_cm") or 0.0) + depth * (1.0 - fill / 100.0)
    return d if d > 0.5 else 0.5


# --- Accelerometer ---------------------------------------------------------------------------
def gravity_g(tilt_deg, tilt_axis="x"):
    """Gravity in the board's frame, in g, for a board tilted by tilt_deg.

    Flat (0 deg) reads (0, 0, +1). Tilting about the x axis moves gravity into +y:
    (0, sin t, cos t); about the y axis into +x: (sin t, 0, cos t). A number for tilt_axis is the
    azimuth (deg) of the tilt direction in the x-y plane.
    """
    t = math.radians(tilt_deg or 0.0)
    if tilt_axis in ("x", None):
        az = math.pi / 2
    elif tilt_axis == "y":
        az = 0.0
    else:
        az = math.radians(float(tilt_axis))
    s = math.sin(t)
    return (s * math.cos(az), s * math.sin(az), math.cos(t))


# --- Calendar for the ESP32's 2000-based clock ----------------------------------------------
def days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return (y + (m <= 2), m, d)


def gmtime2000(secs):
    """time.gmtime() of the ESP32 port: 8-tuple for seconds since 2000-01-01."""
    secs = int(secs)
    days, rem = divmod(secs + EPOCH_2000, 86400)
    y, m, d = civil_from_days(days)
    wday = (days + 3) % 7                        # 1970-01-01 was a Thursday (3, Monday = 0)
    yday = days - days_from_civil(y, 1, 1) + 1
    return (y, m, d, rem // 3600, (rem // 60) % 60, rem % 60, wday, yday)


def mktime2000(t):
    """time.mktime() of the ESP32 port: seconds since 2000-01-01 for a date tuple."""
    y, m, d, hh, mm, ss = t[0], t[1], t[2], t[3], t[4], t[5]
    # normalise month overflow like the C library does
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    return (days_from_civil(y, m, 1) + d - 1) * 86400 + hh * 3600 + mm * 60 + ss - EPOCH_2000
