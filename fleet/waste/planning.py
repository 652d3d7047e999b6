"""Collection planning: which bins the next shift empties, and each truck's route.

Bins to collect = those at or forecast to reach their threshold before the following shift
starts, plus bins with an open stop of an earlier plan that was not confirmed emptied, plus
burning bins (fire). A bin without a location cannot be routed: it is left out with that reason.

Routes: PyVRP (a hybrid genetic search for vehicle routing) on a prize-collecting problem -
every bin optional with a large prize, so the solver drops what cannot fit rather than fail
- with a depot, trucks of a capacity in litres, a working time (shift length), a service time
per bin, straight-line distances (haversine x a detour factor) or a road-distance matrix. A bin
left out is explained by the constraint that excludes it: "too far for the working time" when
even a truck to it alone and back exceeds the shift, "larger than a truck" when its waste does
not fit an empty truck, else "trucks full" (capacity) or "working time used up", by which the
trucks ran out. The solver stops at time_limit_s and returns the best plan so far, marked
`time_limit` (PyVRP's search never proves optimality; with a time-out it says so).
"""

import json
import math
import time

import numpy as np

from fleet.core import clock
from fleet.domain import audit
from fleet.errors import Invalid
from fleet.store.db import rows, write_tx
from fleet.waste import forecast

EARTH_M = 6371000.0


def haversine_m(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(h))


def distance_matrix(points, detour=1.3):
    """Metres between every pair of (lat, lon): haversine x detour (streets are not straight)."""
    p = np.radians(np.array(points, dtype=float))
    lat, lon = p[:, 0][:, None], p[:, 1][:, None]
    h = np.sin((lat.T - lat) / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin((lon.T - lon) / 2) ** 2
    return np.rint(2 * EARTH_M * np.arcsin(np.sqrt(np.clip(h, 0, 1))) * detour).astype(np.int64)


def read_matrix_csv(text, ids):
    """A road-distance matrix from CSV: header `from,to,metres`; every pair of ids needed."""
    index = {k: i for i, k in enumerate(ids)}
    m = np.full((len(ids), len(ids)), -1, dtype=np.int64)
    np.fill_diagonal(m, 0)
    for n, line in enumerate(text.splitlines()[1:], start=2):
        parts = [x.strip() for x in line.split(",")]
        if len(parts) != 3:
            raise Invalid("distance matrix line %d: expected from,to,metres" % n)
        a, b, metres = parts
        if a in index and b in index:
            try:
                m[index[a], index[b]] = int(float(metres))
            except ValueError:
                raise Invalid("distance matrix line %d: metres must be a number" % n)
    missing = np.argwhere(m < 0)
    if len(missing):
        i, j = missing[0]
        raise Invalid("distance matrix: no distance from %s to %s (%d pairs missing)" % (ids[i], ids[j], len(missing)))
    return m


def solve(stops, depot, trucks, capacity_l, shift_s, speed_kmh=25.0, service_s=90, time_limit_s=5.0,
          matrix=None, detour=1.3, seed=1):
    """Routes for stops [{'id', 'lat', 'lon', 'litres'}] from depot (lat, lon).

    Returns {'status': 'ok' | 'time_limit' | 'empty', 'routes': [[{'id', 'eta_s', 'load_l'}...] per truck],
    'km': [...], 'minutes': [...], 'left': [{'id', 'reason'}], 'runtime_s', 'solver'}."""
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType, solve as vrp_solve
    from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement
    if trucks < 1 or capacity_l < 1 or shift_s < 60:
        raise Invalid("planning needs at least one truck, a capacity and a working time")
    left, ok = [], []
    pts = [depot] + [(s["lat"], s["lon"]) for s in stops]
    dist = matrix if matrix is not None else distance_matrix(pts, detour)
    dur = np.rint(dist / (speed_kmh / 3.6)).astype(np.int64)
    for i, s in enumerate(stops, start=1):
        if s["litres"] > capacity_l:
            left.append({"id": s["id"], "reason": "larger than a truck: %d L > %d L" % (s["litres"], capacity_l)})
        elif dur[0, i] + dur[i, 0] + service_s > shift_s:
            left.append({"id": s["id"], "reason": "too far for the working time: %.1f km there and back at %g km/h "
                         "exceeds the %.1f h shift" % ((dist[0, i] + dist[i, 0]) / 1000, speed_kmh, shift_s / 3600)})
        else:
            ok.append(i)
    result = {"status": "empty", "routes": [[] for _ in range(trucks)], "km": [0.0] * trucks,
              "minutes": [0.0] * trucks, "left": left, "runtime_s": 0.0, "solver": "pyvrp"}
    if not ok:
        return result
    keep = [0] + ok
    sub_d, sub_t = dist[np.ix_(keep, keep)], dur[np.ix_(keep, keep)]
    locations = [Location(0, 0) for _ in keep]
    # A bin's prize outweighs any detour to it (so none is dropped for distance alone) yet stays on
    # the scale of the distances, so the penalty for an overfull truck or a late one can outweigh it.
    prize = int(4 * sub_d.max()) + 1000
    clients = [Client(location=j, pickup=[stops[i - 1]["litres"]], service_duration=service_s, prize=prize,
                      required=False) for j, i in enumerate(ok, start=1)]
    data = ProblemData(locations, clients, [Depot(0)],
                       [VehicleType(num_available=trucks, capacity=[capacity_l], shift_duration=shift_s)],
                       [sub_d], [sub_t])
    started = time.monotonic()
    res = vrp_solve(data, MultipleCriteria([MaxRuntime(time_limit_s), NoImprovement(20000)]), seed=seed,
                    display=False, collect_stats=False)
    result["runtime_s"] = round(time.monotonic() - started, 3)
    result["status"] = "time_limit" if res.runtime >= time_limit_s * 0.98 else "ok"
    best = res.best
    if not best.is_feasible():
        # no plan within the constraints was found in time: say so, plan nothing rather than break one
        result["status"] = "infeasible"
        left.extend({"id": stops[i - 1]["id"], "reason": "no plan within capacity and working time found in %g s"
                     % time_limit_s} for i in ok)
        return result
    planned = set()
    for r_i, route in enumerate(best.routes()):
        load = 0
        for act in route.schedule():
            if act.is_client():
                s = stops[ok[act.idx] - 1]
                load += s["litres"]
                planned.add(act.idx)
                result["routes"][r_i].append({"id": s["id"], "eta_s": int(act.start_time), "load_l": load})
        result["km"][r_i] = round(route.distance() / 1000, 2)
        result["minutes"][r_i] = round(route.duration() / 60, 1)
    dropped = [j for j in range(len(ok)) if j not in planned]
    if dropped:
        need = sum(stops[ok[j] - 1]["litres"] for j in range(len(ok)))
        full = need > trucks * capacity_l * 0.98 or any(
            r and r[-1]["load_l"] > capacity_l * 0.9 for r in result["routes"])
        reason = ("trucks full: %d truck%s x %d L for %d L of waste" % (trucks, "" if trucks == 1 else "s",
                                                                        capacity_l, need) if full else
                  "working time used up: %d truck%s x %.1f h" % (trucks, "" if trucks == 1 else "s", shift_s / 3600))
        left.extend({"id": stops[ok[j] - 1]["id"], "reason": reason} for j in dropped)
    if not any(result["routes"]):
        result["status"] = "empty"
    return result


def candidates(db, shift_start, next_shift_start):
    """(stops to collect, bins left out with a reason): threshold reached or forecast before the
    next shift, an unconfirmed stop of an earlier plan, or burning."""
    stops, left = [], []
    history = {}
    for bin_id, t, pct in db.conn.execute("SELECT bin_id, t, pct FROM bin_fills WHERE t >= ? AND pct IS NOT NULL "
                                          "ORDER BY bin_id, t", (shift_start - 8 * 7 * 86400,)):
        history.setdefault(bin_id, []).append((t, pct))
    carry = {r[0] for r in db.conn.execute(
        "SELECT DISTINCT s.bin_id FROM waste_stops s JOIN waste_plans p ON p.id = s.plan_id "
        "WHERE s.state IN ('planned', 'collected', 'no_access') AND p.shift_start < ?", (shift_start,))}
    for b in rows(db, "SELECT b.*, s.pct, s.status FROM bins b LEFT JOIN bin_state s ON s.bin_id = b.id ORDER BY b.id"):
        f = forecast.forecast(history.get(b["id"], []), b["threshold_pct"])
        why = None
        if b["status"] == "burning":
            why = "fire"
        elif b["id"] in carry:
            why = "not emptied on an earlier plan"
        elif f["pct"] is not None and f["pct"] >= b["threshold_pct"]:
            why = "at %d %% (threshold %d %%)" % (f["pct"], b["threshold_pct"])
        elif f["threshold_at"] is not None and f["threshold_at"] < next_shift_start:
            why = "forecast to reach %d %% before the next shift" % b["threshold_pct"]
        if why is None:
            continue
        if b["lat"] is None:
            left.append({"id": b["id"], "reason": "no location: add lat/lon to route it"})
            continue
        pct = f["pct"] if f["pct"] is not None else 100
        stops.append({"id": b["id"], "lat": b["lat"], "lon": b["lon"], "why": why,
                      "litres": max(1, b["capacity_l"] * max(pct, b["threshold_pct"]) // 100)})
    return stops, left


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
    stops, left = candidates(db, shift_start, shift_start + 86400)
    matrix = None
    if matrix_csv:
        matrix = read_matrix_csv(matrix_csv, ["depot"] + [s["id"] for s in stops])
    res = solve(stops, (settings.waste_depot_lat, settings.waste_depot_lon), trucks, settings.waste_truck_l,
                shift_s, settings.waste_speed_kmh, settings.waste_service_s, settings.waste_plan_time_s, matrix)
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
