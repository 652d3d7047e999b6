"""Collection planning: which bins the next shift empties, and the plan the crews follow.

Bins to collect = those at or forecast to reach their threshold before the following shift
starts, those that could be full before it on a day like their busiest (the forecast's
`full_earliest`: a bin far from full waits), plus bins with an open stop of an earlier plan
that was not confirmed emptied, plus burning bins (fire). A bin without a location cannot be
routed: it is left out with that reason. Each truck's route: routing.py (PyVRP). Why a bin is on
the plan or left out: reasons.py (stable codes, worded on the page). The forecasts and the search
run in a worker process (worker.py), never on the server's event loop.
"""

import json

from fleet.core import clock
from fleet.domain import audit
from fleet.errors import Invalid
from fleet.store.db import rows, write_tx
from fleet.waste import forecast, reasons, routing, worker


def due(b, f, carried, next_shift_start):
    """Why bin b (a bins row with its state's status) is collected on the shift before
    next_shift_start, given its forecast f - or None: it can wait for the next shift."""
    threshold = b["threshold_pct"]
    if b.get("status") == "burning":
        return reasons.why("fire")
    if carried:
        return reasons.why("carried")
    if f["pct"] is not None and f["pct"] >= threshold:
        return reasons.why("at_threshold", pct=f["pct"], threshold=threshold)
    if f["threshold_at"] is not None and f["threshold_at"] < next_shift_start:
        return reasons.why("threshold_before_next", threshold=threshold)
    if f["full_earliest"] is not None and f["full_earliest"] < next_shift_start:
        return reasons.why("may_overflow")
    return None


def gather(db, shift_start):
    """What planning needs from the database: the bins (with their state's pct and status), eight
    weeks of fill history by bin, and the bins an earlier plan still owes."""
    history = {}
    for bin_id, t, pct in db.conn.execute("SELECT bin_id, t, pct FROM bin_fills WHERE t >= ? AND pct IS NOT NULL "
                                          "ORDER BY bin_id, t", (shift_start - 8 * 7 * 86400,)):
        history.setdefault(bin_id, []).append((t, pct))
    carry = {r[0] for r in db.conn.execute(
        "SELECT DISTINCT s.bin_id FROM waste_stops s JOIN waste_plans p ON p.id = s.plan_id "
        "WHERE s.state IN ('planned', 'collected', 'no_access') AND p.shift_start < ?", (shift_start,))}
    found = rows(db, "SELECT b.*, s.pct, s.status FROM bins b LEFT JOIN bin_state s ON s.bin_id = b.id ORDER BY b.id")
    return found, history, carry


def choose(found, history, carry, next_shift_start):
    """(stops to collect, bins left out with a reason): threshold reached or forecast before the
    next shift, could overflow before it, an unconfirmed stop of an earlier plan, or burning."""
    stops, left = [], []
    for b in found:
        f = forecast.forecast(history.get(b["id"], []), b["threshold_pct"])
        why = due(b, f, b["id"] in carry, next_shift_start)
        if why is None:
            continue
        if b["lat"] is None:
            left.append(reasons.left(b["id"], "no_location"))
            continue
        pct = f["pct"] if f["pct"] is not None else 100
        stops.append({"id": b["id"], "lat": b["lat"], "lon": b["lon"], "why": why,
                      "litres": max(1, b["capacity_l"] * max(pct, b["threshold_pct"]) // 100)})
    return stops, left


def candidates(db, shift_start, next_shift_start):
    return choose(*gather(db, shift_start), next_shift_start)


def compute(found, history, carry, next_shift_start, depot, trucks, settings, matrix_csv=None):
    """The plan's stops and routes (in the planning worker: worker.py): (stops, left, result)."""
    stops, left = choose(found, history, carry, next_shift_start)
    matrix = None
    if matrix_csv:
        matrix = routing.read_matrix_csv(matrix_csv, ["depot"] + [s["id"] for s in stops])
    res = routing.solve(stops, depot, trucks, settings["truck_l"], settings["shift_s"], settings["speed_kmh"],
                        settings["service_s"], settings["time_s"], matrix)
    return stops, left, res


def make_plan(db, actor, settings, shift_start=None, trucks=None, matrix_csv=None):
    """Plan the shift starting at shift_start (default: the next shift_hour UTC) and store it."""
    now = clock.now()
    if shift_start is None:
        day = int(now // 86400) * 86400
        shift_start = day + settings.waste_shift_hour * 3600
        if shift_start <= now:
            shift_start += 86400
    shift_s = int(settings.waste_shift_h * 3600)
    trucks = trucks or settings.waste_trucks
    solver = {"truck_l": settings.waste_truck_l, "shift_s": shift_s, "speed_kmh": settings.waste_speed_kmh,
              "service_s": settings.waste_service_s, "time_s": settings.waste_plan_time_s}
    stops, left, res = worker.call(compute, *gather(db, shift_start), shift_start + 86400,
                                   (settings.waste_depot_lat, settings.waste_depot_lon), trucks, solver, matrix_csv)
    res["left"] = left + res["left"]
    why = {s["id"]: s["why"] for s in stops}
    summary = {"trucks": trucks, "km": res["km"], "minutes": res["minutes"], "left": res["left"],
               "runtime_s": res["runtime_s"], "solver": res["solver"], "why": why,
               "stops": sum(len(r) for r in res["routes"])}
    with write_tx(db):
        plan_id = db.conn.execute(
            "INSERT INTO waste_plans (created_at, created_by, shift_start, shift_end, status, summary) "
            "VALUES (?, ?, ?, ?, ?, ?)", (clock.iso(now), str(actor), shift_start, shift_start + shift_s,
                                          res["status"], json.dumps(summary))).lastrowid
        for truck, route in enumerate(res["routes"], start=1):
            for seq, stop in enumerate(route, start=1):
                db.conn.execute("INSERT INTO waste_stops (plan_id, truck, seq, bin_id, eta, state) "
                                "VALUES (?, ?, ?, ?, ?, 'planned')", (plan_id, truck, seq, stop["id"],
                                                                      shift_start + stop["eta_s"]))
        # a bin on the new plan is no longer owed by an older one
        db.conn.execute("UPDATE waste_stops SET state = 'replanned' WHERE plan_id != ? AND state IN "
                        "('planned', 'collected', 'no_access') AND bin_id IN (SELECT bin_id FROM waste_stops "
                        "WHERE plan_id = ?)", (plan_id, plan_id))
        audit.record(db, actor, "waste.plan", "plan:%d" % plan_id, {"stops": summary["stops"],
                                                                     "left": len(res["left"])})
    return get_plan(db, plan_id)


def get_plan(db, plan_id=None):
    from fleet.errors import NotFound
    q = "SELECT * FROM waste_plans " + ("WHERE id = ?" if plan_id else "ORDER BY id DESC LIMIT 1")
    found = rows(db, q, (plan_id,) if plan_id else ())
    if not found:
        raise NotFound("no plan %s" % plan_id if plan_id else "no plan yet")
    plan = found[0]
    plan["summary"] = json.loads(plan["summary"])
    plan["stops"] = rows(db, "SELECT s.*, b.name, b.lat, b.lon, b.waste_type, b.capacity_l, st.pct FROM waste_stops s "
                             "JOIN bins b ON b.id = s.bin_id LEFT JOIN bin_state st ON st.bin_id = s.bin_id "
                             "WHERE s.plan_id = ? ORDER BY s.truck, s.seq", (plan["id"],))
    return plan


MARKS = ("collected", "no_access")


def mark(db, actor, stop_id, state):
    """The crew marks a stop collected or could-not-access. A confirmed stop (the bin's own
    `emptied` event) stays confirmed."""
    from fleet.errors import NotFound
    if state not in MARKS:
        raise Invalid("state must be one of %s" % ", ".join(MARKS))
    with write_tx(db):
        cur = db.conn.execute("SELECT state FROM waste_stops WHERE id = ?", (stop_id,)).fetchone()
        if cur is None:
            raise NotFound("no stop %s" % stop_id)
        if cur[0] in ("planned", "collected", "no_access"):
            db.conn.execute("UPDATE waste_stops SET state = ?, marked_at = ?, marked_by = ? WHERE id = ?",
                            (state, clock.iso(), str(actor), stop_id))
        audit.record(db, actor, "waste.stop." + state, "stop:%s" % stop_id)
    return rows(db, "SELECT * FROM waste_stops WHERE id = ?", (stop_id,))[0]
