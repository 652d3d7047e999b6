# Sunrise and sunset for the streetlight's dusk-to-dawn schedule (docs/facilities.md), by the
# NOAA approximation (equation of time and declination from the fractional year; zenith 90.833
# degrees for refraction and the sun's disc). Single-precision safe: the date comes from integer
# Unix time through integers only (an ESP32 float holds an epoch time to 128 s), and every float
# here is an angle or a number of minutes, well within a float's 24-bit mantissa (accurate to
# about a minute; the NOAA formula itself is good to ~1-2 min at mid latitudes).
import math


def day_of_year(unix_s, utc_offset_min=0):
    """(day of year 1..366, minute of the local day 0..1439) of integer Unix time."""
    t = unix_s + utc_offset_min * 60
    days, sec = divmod(t, 86400)
    # civil date from days since 1970-01-01 (Howard Hinnant's algorithm), integers only
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy_mar = doe - (365 * yoe + yoe // 4 - yoe // 100)          # day of the year starting 1 March
    mp = (5 * doy_mar + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    y = y + 1 if m <= 2 else y
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    jan1_to_mar1 = 60 if leap else 59
    doy = doy_mar - 306 + 1 if m <= 2 else doy_mar + jan1_to_mar1 + 1
    return doy, sec // 60


def sun_minutes(doy, lat_deg, lon_deg, utc_offset_min):
    """(sunrise, sunset) in local minutes of the day (0..1439, may wrap), or "night" / "day"
    when the sun does not rise / set that day (polar)."""
    g = 2 * math.pi / 365 * (doy - 1)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                       - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    lat = math.radians(lat_deg)
    c = math.cos(math.radians(90.833)) / (math.cos(lat) * math.cos(decl)) - math.tan(lat) * math.tan(decl)
    if c > 1:
        return "night"
    if c < -1:
        return "day"
    ha = math.degrees(math.acos(c))
    rise = 720 - 4 * (lon_deg + ha) - eqtime + utc_offset_min
    sets = 720 - 4 * (lon_deg - ha) - eqtime + utc_offset_min
    return int(rise) % 1440, int(sets) % 1440


def lamp_should_be_on(minute, on_min, off_min):
    """True between on_min (dusk) and off_min (dawn) on a 1440-minute clock (wrapping midnight)."""
    if on_min == off_min:
        return False
    if on_min > off_min:
        return minute >= on_min or minute < off_min
    return on_min <= minute < off_min
