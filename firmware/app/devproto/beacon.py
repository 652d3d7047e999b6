# The facility beacon's settings: what the fleet sends a `beacon` device in down.beacon (its
# asset's kind, public URL and id, the thresholds and the schedule). One definition for the
# fleet (fleet/facilities/beacons.py composes them) and the firmware (roles/beacon.py applies
# them); docs/protocol.md "down.beacon" lists them (tests/protocol checks it agrees).
# Loaded only by beacon firmware: a call button never holds it in RAM.

# key -> (kind, min, max, default); for "str" min/max bound the length. Integers only for
# numbers: the ESP32's single-precision floats would round a latitude to ~1 m, a time to 128 s.
BEACON = {
    "type": ("str", 0, 20, ""),                 # manhole_cover | streetlight | bin | other
    "url": ("str", 0, 200, ""),                 # the public URL (Eddystone-URL; empty: none)
    "uid": ("int", 0, 281474976710655, 0),      # the asset's id (Eddystone-UID instance; 0: none)
    "tilt_deg": ("int", 2, 90, 10),             # cover_open at this tilt from the installed angle
    "dark_pct": ("int", 1, 99, 20),             # light level (% of full) below which it is dark
    "lamp_on_ma": ("int", 1, 100000, 50),       # lamp current above which the lamp is lit
    "lamp_debounce_s": ("int", 10, 3600, 300),  # a lamp fault must last this long to be reported
    "lamp_on_min": ("int", -1, 1439, -1),       # schedule: on at this local minute (-1: sunset)
    "lamp_off_min": ("int", -1, 1439, -1),      # off at this local minute (-1: sunrise)
    "lat_e4": ("int", -900000, 900000, 0),      # site latitude x 10^4
    "lon_e4": ("int", -1800000, 1800000, 0),    # site longitude x 10^4
    "utc_offset_min": ("int", -720, 840, 480),  # local time = UTC + this (the district: UTC+8)
    "adv_ms": ("int", 0, 10240, 1000),          # BLE advertising interval; 0: off
}


def check_beacon(got):
    """The known, valid settings of a down.beacon object (others dropped, device side)."""
    out = {}
    for k in got:
        spec = BEACON.get(k)
        v = got[k]
        if spec is None or v is True or v is False:
            continue
        if spec[0] == "str":
            if isinstance(v, str) and spec[1] <= len(v) <= spec[2]:
                out[k] = v
        elif isinstance(v, int) and spec[1] <= v <= spec[2]:
            out[k] = v
    return out


def default(name):
    return BEACON[name][3]
