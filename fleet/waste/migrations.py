"""The waste tables (version 7 of fleet.schema.MIGRATIONS). Never edit a released step: add
the next number there."""


def m007_waste(db):
    """Bins, their fill history and latest state, collection plans and their stops, maintenance."""
    db["bins"].create({
        "id": str, "name": str, "lat": float, "lon": float, "capacity_l": int, "waste_type": str,
        "depth_mm": int, "threshold_pct": int, "area": str, "device_id": str,
        "created_at": str, "updated_at": str,
    }, pk="id", not_null={"capacity_l", "waste_type", "depth_mm", "threshold_pct"})
    db.conn.execute("CREATE UNIQUE INDEX idx_bins_device ON bins (device_id) WHERE device_id IS NOT NULL")
    # One row per fill reading a device sent (its event time t, Unix seconds), and per emptying.
    db["bin_fills"].create({"id": int, "bin_id": str, "t": int, "pct": int, "q": str, "mm": int,
                            "temp_c": float, "kind": str}, pk="id")
    db["bin_fills"].create_index(["bin_id", "t"])
    # The latest of each bin: fill, quality, status (FIWARE: ok, lidOpen, dropped, burning).
    db["bin_state"].create({"bin_id": str, "t": int, "pct": int, "q": str, "temp_c": float,
                            "status": str, "emptied_t": int, "battery_v": float}, pk="bin_id")
    db["waste_plans"].create({"id": int, "created_at": str, "created_by": str, "shift_start": int,
                              "shift_end": int, "status": str, "summary": str}, pk="id")
    # A stop of a plan: planned -> collected | no_access (the crew) -> confirmed (the bin's emptied event).
    db["waste_stops"].create({"id": int, "plan_id": int, "truck": int, "seq": int, "bin_id": str, "eta": int,
                              "state": str, "marked_at": str, "marked_by": str, "confirmed_at": str},
                             pk="id")
    db["waste_stops"].create_index(["plan_id", "truck", "seq"])
    db["waste_stops"].create_index(["bin_id", "state"])
    # Work for technicians: tilted, sensor_fault (not_reporting is derived from the device's status).
    db["waste_maintenance"].create({"id": int, "bin_id": str, "kind": str, "detail": str, "opened_at": str,
                                    "closed_at": str}, pk="id")
    db["waste_maintenance"].create_index(["bin_id", "kind", "closed_at"])
