"""The demo's bins (`fleet demo`, fleet/demo.py): each virtual smart bin enters the registry,
at its district bin's spot, once its board has enrolled, and is told to sample every minute -
its world fills a simulated day in a few real minutes, so the map and the forecasts move while
one watches.
"""

import logging
import time

from fleet.domain import devices, users
from fleet.errors import FleetError, NotFound
from fleet.waste import bins

log = logging.getLogger("fleet.demo")
ACTOR = users.Principal("cli", "demo", "admin")
DEMO_CONFIG = {"sample_min": 1, "fill_report_h": 1}


def register_when_enrolled(open_db, demo_bins, timeout_s=300.0, poll_s=1.0):
    """demo_bins: [{'id', 'name', 'hw_id', 'lat', 'lon', 'waste_type'}]. Blocks until each is in
    the registry with its board attached (or timeout_s passed); run it in a thread."""
    pending = list(demo_bins)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        db = open_db()
        try:
            for b in list(pending):
                found = db.conn.execute("SELECT id FROM devices WHERE hw_id = ?", (b["hw_id"],)).fetchone()
                if found is None:
                    continue
                rec = {"id": b["id"], "name": b["name"], "lat": b["lat"], "lon": b["lon"], "capacity_l": 240,
                       "waste_type": b["waste_type"], "depth_mm": 1000, "area": "demo", "device_id": found[0]}
                try:
                    bins.get(db, b["id"])
                    exists = True
                except NotFound:
                    exists = False
                try:
                    bins.save(db, ACTOR, rec, create=not exists)
                    devices.set_config(db, ACTOR, found[0], DEMO_CONFIG)
                except FleetError as exc:          # a demo never stops for its bins
                    log.warning("demo bin %s not registered: %s", b["id"], exc)
                pending.remove(b)
        finally:
            db.close()
        time.sleep(poll_s)
    return [b["id"] for b in pending]
