"""Each truck's route for a set of stops: PyVRP (a hybrid genetic search for vehicle routing).

A prize-collecting problem - every bin optional with a large prize, so the solver drops what
cannot fit rather than fail - with a depot, trucks of a capacity in litres, a working time (shift
length), a service time per bin, straight-line distances (haversine x a detour factor) or a
road-distance matrix. A bin left out is explained by the constraint that excludes it (codes in
reasons.py): "too far for the working time" when even a truck to it alone and back exceeds the
shift, "larger than a truck" when its waste does not fit an empty truck, else "trucks full"
(capacity) or "working time used up", by which the trucks ran out. The solver stops at
time_limit_s and returns the best plan so far, marked `time_limit` (PyVRP's search never proves
optimality; with a time-out it says so).
"""

import math
import time

import numpy as np

from fleet.errors import Invalid
from fleet.waste import reasons

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
          matrix=None, detour=1.3, seed=1, progress=False):
    """Routes for stops [{'id', 'lat', 'lon', 'litres'}] from depot (lat, lon). With progress, also
    'progress': [(seconds into the search, best cost)] at each improvement (for benchmarks).

    Returns {'status': 'ok' | 'time_limit' | 'empty', 'routes': [[{'id', 'eta_s', 'load_l'}...] per truck],
    'km': [...], 'minutes': [...], 'left': [{'id', 'code', 'params', 'reason'}], 'runtime_s', 'solver'}."""
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
            left.append(reasons.left(s["id"], "too_large", litres=s["litres"], capacity=capacity_l))
        elif dur[0, i] + dur[i, 0] + service_s > shift_s:
            left.append(reasons.left(s["id"], "too_far", km=round(float(dist[0, i] + dist[i, 0]) / 1000, 1),
                                     speed=speed_kmh, shift_h=round(shift_s / 3600, 1)))
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
                    display=False, collect_stats=progress)
    result["runtime_s"] = round(time.monotonic() - started, 3)
    if progress:
        result["progress"], elapsed, last = [], 0.0, None
        for spent, datum in zip(res.stats.runtimes, res.stats.data):
            elapsed += spent
            if datum.best_feas and datum.best_cost != last:
                result["progress"].append((round(elapsed, 3), datum.best_cost))
                last = datum.best_cost
    result["status"] = "time_limit" if res.runtime >= time_limit_s * 0.98 else "ok"
    best = res.best
    if not best.is_feasible():
        # no plan within the constraints was found in time: say so, plan nothing rather than break one
        result["status"] = "infeasible"
        left.extend(reasons.left(stops[i - 1]["id"], "infeasible", seconds=time_limit_s) for i in ok)
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
        if full:
            params = dict(code="trucks_full", trucks=trucks, capacity=capacity_l, need=need)
        else:
            params = dict(code="time_used", trucks=trucks, shift_h=round(shift_s / 3600, 1))
        left.extend(reasons.left(stops[ok[j] - 1]["id"], **params) for j in dropped)
    if not any(result["routes"]):
        result["status"] = "empty"
    return result
