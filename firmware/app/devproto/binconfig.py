# Config keys of the smart_bin role: key -> (kind, min, max, default), like devproto.CONFIG.
# Kept apart so the other roles never hold them in RAM: a smart bin hands them to its config
# when its role loads (roles/smart_bin.py: rt.config.add_keys, merged with devproto's keys on
# every read and push of the config); the fleet sees them through
# devproto.ROLE_CONFIG["smart_bin"] (validate.py). docs/protocol.md "Smart bin config keys".
from devproto import INT

KEYS = {
    "sample_min": (INT, 1, 240, 15),         # measure every N minutes
    "fill_delta_pct": (INT, 1, 100, 5),      # report fill on a change of >= N points
    "fill_report_h": (INT, 1, 48, 6),        # ... and at least every N hours
    "empty_drop_pct": (INT, 10, 100, 30),    # a drop of >= N points is an emptying
    "fire_temp_c": (INT, 40, 150, 70),       # fire at this temperature
    "fire_rise_c": (INT, 5, 60, 15),         # ... or on this rise within 10 minutes
    "tilt_deg": (INT, 10, 90, 45),           # knocked over: tilted at least this much
    "tilt_s": (INT, 5, 600, 30),             # ... for this long
    "lid_events": (INT, 0, 1, 0),            # 1: report lid openings (lid_open)
    "bin_depth_mm": (INT, 200, 3000, 1000),  # rim to floor
    "sensor_offset_mm": (INT, 0, 1000, 0),   # sensor above the rim (a full bin reads this)
    "stuck_h": (INT, 6, 336, 48),            # the same distance this long: sensor_fault stuck
}
