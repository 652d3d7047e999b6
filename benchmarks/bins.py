"""Smart bins on the seeded virtual district (boards/virtual/district.py): forecast error,
collections and route km against a sensible fixed schedule, planning time.

    python benchmarks/bins.py [--bins 200] [--weeks 8] [--seed 1] [--day-sigma 0.3] [--threshold 80]
                              [--plan-bins 1000] [--plan-trucks 5] [--only fixed|sensor|planning]

Both policies run the same district (same seed: the same bins, the same busy days) with the same
crews (--trucks of --truck-l litres, an 8 h shift from 06:00 UTC, routes by the fleet's solver),
and a bin is emptied when its truck reaches it (the route's time), not at 06:00. Figures count
from the end of a warm-up (--warmup-weeks, 2): the fleet needs a history to forecast from.

1. Sensor plan: a real fleet in this process (benchmarks/binfleet.py) on the simulated clock.
   Every bin's board enrolls through the device API; what it reports is decided by the
   firmware's own rules (firmware/app/binfill.py) and sent signed, stamped with the simulated
   time, one request per wake. At 05:00 the fleet plans the 06:00 shift through its API
   (fleet/waste/planning.py: at or forecast to reach the threshold before the next shift, or
   could be full before it on a day like its busiest).
2. Forecast error: every day at 06:00 after the warm-up, each bin's forecast as the fleet's API
   gives it (weekly profile) and the naive last-rate baseline (the rate between its last two
   readings, in a straight line) against the truth - when the bin, left alone, would really
   reach 100 % and its threshold (district.Bin.reaches; only truths within 7 days). A forecast
   that says "not within 4 weeks" for a truth within 7 days is counted apart, not as an error.
3. Fixed schedule, sensible: each bin emptied k times a week on fixed weekdays, k the fewest that
   keep every gap's expected fill under its threshold (from the bin's TRUE mean rates: a schedule
   as good as perfect knowledge of the averages allows), weekdays staggered to even out the
   trucks' days.
4. Planning time for --plan-bins bins and --plan-trucks trucks: the solver runs until it stops
   improving (or 60 s); the time to the best plan and to one within 1 % of it.
5. A device's request latency while the fleet plans --plan-bins bins (all due), with the plan in
   the fleet's planning worker process and, for comparison, in the request's thread.

Results go to docs/performance.md by hand; the last line is JSON.
"""

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "firmware" / "app"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from boards.virtual import district  # noqa: E402
from devproto.binconfig import KEYS  # noqa: E402
from fleet.waste import forecast, routing  # noqa: E402

CFG = {k: v[3] for k, v in KEYS.items()}
T0 = 1798761600                   # 2027-01-01 00:00 UTC, a Friday
STEP = CFG["sample_min"] * 60
SHIFT_H, PLAN_H, SHIFT_LEN_H = 6, 5, 8
DEPOT = district.CENTRE
HORIZON_S = 7 * 86400


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


class Tally:
    """Collections, km and overflows counted after the warm-up."""

    def __init__(self, bins, warmup_s):
        self.bins, self.warmup_s = bins, warmup_s
        self.collections = self.left = 0
        self.km = 0.0
        self.fills = []
        self.base = None

    def start_counting(self):
        self.base = (sum(b.overflows for b in self.bins), sum(b.overflows_soon for b in self.bins))

    def result(self, weeks):
        return {"collections_per_week": round(self.collections / weeks, 1), "km_per_week": round(self.km / weeks, 1),
                "overflows": sum(b.overflows for b in self.bins) - self.base[0],
                "overflows_within_a_day_of_emptying": sum(b.overflows_soon for b in self.bins) - self.base[1],
                "mean_fill_at_collection": round(statistics.mean(self.fills), 1) if self.fills else None,
                "left_out": self.left}


def gap_fill(b, start_day, days):
    """Expected fill (points) from one 06:00 collection on start_day to the one days later."""
    t0 = T0 + start_day * 86400 + SHIFT_H * 3600
    return sum(b.rate_per_h(t0 + h * 3600) for h in range(days * 24))


def fixed_schedule(bins, threshold):
    """{bin id: set of weekdays (days since T0 mod 7)}: the fewest collections a week whose every
    gap keeps the bin's expected fill under threshold, staggered over the week."""
    load, out = [0] * 7, {}
    for b in bins:
        for k in range(1, 8):
            fits = []
            for offset in range(7 if k < 7 else 1):
                days = sorted((int(i * 7 / k) + offset) % 7 for i in range(k))
                gaps = [((days[(i + 1) % k] - d) % 7) or 7 for i, d in enumerate(days)]
                if all(gap_fill(b, d, g) <= threshold for d, g in zip(days, gaps)):
                    fits.append(days)
            if fits:
                break
        else:
            fits = [list(range(7))]       # fills past its threshold within a day: every day
        best = min(fits, key=lambda days: (max(load[d] + (d in days) for d in range(7)), days))
        for d in best:
            load[d] += 1
        out[b.id] = set(best)
    return out


def run_fixed(args):
    bins = district.make_district(args.bins, args.seed, day_sigma=args.day_sigma)
    schedule = fixed_schedule(bins, args.threshold)
    tally, routes, due_at = Tally(bins, args.warmup_weeks * 7 * 86400), {}, {}
    for day in range(args.weeks * 7):
        if day == args.warmup_weeks * 7:
            tally.start_counting()
        for step in range(86400 // STEP):
            t = T0 + day * 86400 + step * STEP
            if step * STEP == SHIFT_H * 3600:
                due = tuple(b for b in bins if day % 7 in schedule[b.id])
                key = frozenset(b.id for b in due)
                if key not in routes:     # the same bins every such weekday: the same route
                    stops = [{"id": b.id, "lat": b.lat, "lon": b.lon, "litres": b.capacity_l * args.threshold // 100}
                             for b in due]
                    routes[key] = routing.solve(stops, DEPOT, args.trucks, args.truck_l, SHIFT_LEN_H * 3600,
                                                time_limit_s=args.plan_time)
                res = routes[key]
                for route in res["routes"]:
                    for s in route:
                        due_at[s["id"]] = t + s["eta_s"]
                if day >= args.warmup_weeks * 7:
                    tally.km += sum(res["km"])
                    tally.left += len(res["left"])
            for b in bins:
                b.advance(t, STEP)
                if b.id in due_at and due_at[b.id] < t + STEP:
                    collect(b, due_at.pop(b.id), day >= args.warmup_weeks * 7, tally)
                b.sample(t + STEP, CFG)            # keeps the sensor's noise draws as in the sensor run
    return tally.result(args.weeks - args.warmup_weeks)


def collect(b, t, counted, tally):
    if counted:
        tally.collections += 1
        tally.fills.append(min(b.level, 100.0))
    b.empty(t)


def run_sensor(args, evaluate=True):
    import binfleet
    bins = district.make_district(args.bins, args.seed, day_sigma=args.day_sigma)
    tally = Tally(bins, args.warmup_weeks * 7 * 86400)
    readings = {b.id: [] for b in bins}
    errors = {k: [] for k in ("full", "full_base", "threshold", "threshold_base")}
    counts = {"full_none": 0, "full_base_none": 0, "in_band": 0, "band_n": 0}
    due_at = {}
    timing = {"plan_s": [], "send_s": 0.0}
    with tempfile.TemporaryDirectory(prefix="bins-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as w:
        fleet = binfleet.SimFleet(Path(w), T0, waste_depot_lat=DEPOT[0], waste_depot_lon=DEPOT[1],
                                  waste_trucks=args.trucks, waste_truck_l=args.truck_l, waste_shift_hour=SHIFT_H,
                                  waste_shift_h=float(SHIFT_LEN_H), waste_plan_time_s=args.plan_time)
        try:
            fleet.add_bins(bins, args.threshold)
            for day in range(args.weeks * 7):
                counted = day >= args.warmup_weeks * 7
                if day == args.warmup_weeks * 7:
                    tally.start_counting()
                for step in range(86400 // STEP):
                    t = T0 + day * 86400 + step * STEP
                    fleet.now = t
                    if step * STEP == PLAN_H * 3600:
                        started = time.monotonic()
                        plan = fleet.plan(t - PLAN_H * 3600 + SHIFT_H * 3600)
                        timing["plan_s"].append(time.monotonic() - started)
                        for s in plan["stops"]:
                            due_at[s["bin_id"]] = s["eta"]
                        if counted:
                            tally.km += sum(plan["summary"]["km"])
                            tally.left += len(plan["summary"]["left"])
                    if evaluate and counted and step * STEP == SHIFT_H * 3600:
                        judge_forecasts(fleet.forecasts(), bins, readings, t, args.threshold, errors, counts)
                    for b in bins:
                        b.advance(t, STEP)
                        if b.id in due_at and due_at[b.id] < t + STEP:
                            collect(b, due_at.pop(b.id), counted, tally)
                    fleet.now = t + STEP
                    wakes = []
                    for b in bins:
                        events = b.sample(t + STEP, CFG)
                        if events:
                            for kind, data in events:
                                if kind == "fill" and data.get("pct") is not None:
                                    readings[b.id].append((t + STEP, data["pct"]))
                                elif kind == "emptied":
                                    readings[b.id].append((t + STEP, data["to"]))
                            wakes.append(fleet.events_request(b.id, events))
                    started = time.monotonic()
                    fleet.send_all(wakes)
                    timing["send_s"] += time.monotonic() - started
            requests = fleet.requests
        finally:
            fleet.close()
    out = tally.result(args.weeks - args.warmup_weeks)
    out.update(signed_requests=requests, send_s=round(timing["send_s"], 1),
               plan_s_median=round(statistics.median(timing["plan_s"]), 2), plan_s_max=round(max(timing["plan_s"]), 2))
    if evaluate:
        out["forecast"] = {k: {"median_h": round(statistics.median(v), 1) if v else None,
                               "p90_h": round(pct(v, 0.9), 1) if v else None, "n": len(v)}
                           for k, v in errors.items()}
        out["forecast"].update(counts)
    return out


def judge_forecasts(fcs, bins, readings, t, threshold, errors, counts):
    """Each bin's forecast (the fleet's) and the last-rate baseline against the truth."""
    for b in bins:
        f = fcs[b.id]
        hist = readings[b.id]
        if b.level < 100:
            truth = b.reaches(t, 100, horizon_s=HORIZON_S)
            if truth is not None:
                _score(errors, counts, "full", f["full_at"], truth)
                _score(errors, counts, "full_base", forecast.last_rate(hist, 100), truth)
        if b.level < threshold:
            truth = b.reaches(t, threshold, horizon_s=HORIZON_S)
            if truth is not None:
                _score(errors, counts, "threshold", f["threshold_at"], truth)
                _score(errors, counts, "threshold_base", forecast.last_rate(hist, threshold), truth)
                if f["earliest"] is not None:
                    counts["band_n"] += 1
                    counts["in_band"] += f["earliest"] <= truth <= (f["latest"] or math.inf)


def _score(errors, counts, key, predicted, truth):
    if predicted is None:
        counts[key + "_none"] = counts.get(key + "_none", 0) + 1
    else:
        errors[key].append(abs(predicted - truth) / 3600)


def planning_time(n, trucks):
    bins = district.make_district(n, seed=7)
    stops = [{"id": b.id, "lat": b.lat, "lon": b.lon, "litres": 200} for b in bins]
    started = time.monotonic()
    res = routing.solve(stops, DEPOT, trucks, 60000, 10 * 3600, time_limit_s=60.0, progress=True)
    total = time.monotonic() - started
    best = res["progress"][-1][1]
    within = {"within_%dpct_at_s" % q: next(s for s, cost in res["progress"] if cost <= best * (1 + q / 100))
              for q in (5, 2, 1)}
    return dict(within, bins=n, trucks=trucks, wall_s=round(total, 2), solver_s=res["runtime_s"],
                setup_s=round(total - res["runtime_s"], 2), stopped_by=res["status"], best_at_s=res["progress"][-1][0],
                km=round(sum(res["km"]), 1), planned=sum(len(r) for r in res["routes"]), left=len(res["left"]))


def latency_during_plan(n, trucks, plan_time):
    """A device's signed request, one after another, while the fleet plans n bins (all due),
    with the planning worker process (the fleet's way) and with the solver in the request's
    thread (as before): p50/p99/max latency in ms, against the same with no plan running."""
    import threading
    import binfleet
    from fleet.waste import worker
    bins = district.make_district(n, seed=7)
    out = {}
    with tempfile.TemporaryDirectory(prefix="bins-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as w:
        fleet = binfleet.SimFleet(Path(w), T0 + 3 * 3600, waste_depot_lat=DEPOT[0], waste_depot_lon=DEPOT[1],
                                  waste_trucks=trucks, waste_truck_l=60000, waste_shift_hour=SHIFT_H,
                                  waste_shift_h=10.0, waste_plan_time_s=plan_time)
        try:
            fleet.add_bins(bins, 80)
            fleet.send_all([fleet.events_request(b.id, [("fill", {"q": "ok", "pct": 85})]) for b in bins])
            probe = bins[0].id

            def timed(stop):
                lat = []
                while not stop():
                    started = time.monotonic()
                    fleet.send_all([fleet.events_request(probe, [("fill", {"q": "ok", "pct": 85})])])
                    lat.append((time.monotonic() - started) * 1000)
                return lat

            def figures(lat):
                return {"n": len(lat), "p50_ms": round(pct(lat, 0.5), 1), "p99_ms": round(pct(lat, 0.99), 1),
                        "max_ms": round(max(lat), 1)}

            quiet_until = time.monotonic() + 5
            out["no_plan"] = figures(timed(lambda: time.monotonic() > quiet_until))
            for name, apart in (("plan_in_worker_process", True), ("plan_in_request_thread", False)):
                worker.APART = apart
                fleet.plan(T0 + SHIFT_H * 3600)               # warm: the worker process is started
                done, took = [], []

                def plan():
                    started = time.monotonic()
                    fleet.plan(T0 + SHIFT_H * 3600)
                    took.append(time.monotonic() - started)
                    done.append(1)
                t = threading.Thread(target=plan)
                t.start()
                out[name] = figures(timed(lambda: bool(done)))
                t.join()
                out[name]["plan_s"] = round(took[0], 1)
        finally:
            worker.APART = True
            fleet.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bins", type=int, default=200)
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--warmup-weeks", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--day-sigma", type=float, default=0.3, help="spread of a bin's day-to-day factor (lognormal)")
    ap.add_argument("--threshold", type=int, default=80, help="every bin's collection threshold, %%")
    ap.add_argument("--trucks", type=int, default=2)
    ap.add_argument("--truck-l", type=int, default=12000)
    ap.add_argument("--plan-time", type=float, default=2.0, help="the solver's time limit per daily plan, s")
    ap.add_argument("--plan-bins", type=int, default=1000)
    ap.add_argument("--plan-trucks", type=int, default=5)
    ap.add_argument("--only", choices=("fixed", "sensor", "planning", "latency"))
    a = ap.parse_args()
    report = {"args": vars(a)}
    if a.only in (None, "planning"):
        print("== planning time: %d bins, %d trucks" % (a.plan_bins, a.plan_trucks), flush=True)
        report["planning"] = p = planning_time(a.plan_bins, a.plan_trucks)
        print("   best plan at %.1f s; within 5 %% of it at %.1f s, 2 %% at %.1f s, 1 %% at %.1f s (solver stopped: %s "
              "after %.1f s; set-up %.2f s); %d planned, %d left, %.1f km" % (
                  p["best_at_s"], p["within_5pct_at_s"], p["within_2pct_at_s"], p["within_1pct_at_s"], p["stopped_by"],
                  p["solver_s"], p["setup_s"], p["planned"], p["left"], p["km"]), flush=True)
    if a.only in (None, "latency"):
        print("== a device request while %d bins are planned (%d trucks, solver %d s)" % (
            a.plan_bins, a.plan_trucks, 10), flush=True)
        report["latency"] = lat = latency_during_plan(a.plan_bins, a.plan_trucks, 10.0)
        for name, r in lat.items():
            print("   %-23s p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)%s" % (
                name, r["p50_ms"], r["p99_ms"], r["max_ms"], r["n"],
                ", the plan took %.1f s" % r["plan_s"] if "plan_s" in r else ""), flush=True)
        if a.only == "latency":
            print(json.dumps(report))
            return
    print("== %d bins, %d weeks (%d counted), seed %d, day-to-day spread %.2f, threshold %d %%" % (
        a.bins, a.weeks, a.weeks - a.warmup_weeks, a.seed, a.day_sigma, a.threshold), flush=True)
    for name in ("fixed", "sensor"):
        if a.only not in (None, name):
            continue
        started = time.monotonic()
        report[name] = r = run_fixed(a) if name == "fixed" else run_sensor(a)
        print("   %-7s collections/week %.1f, route km/week %.1f, overflows %d (%d within a day of an emptying), "
              "mean fill at collection %s %%, left out %d  [%.0f s]" % (
                  name, r["collections_per_week"], r["km_per_week"], r["overflows"],
                  r["overflows_within_a_day_of_emptying"], r["mean_fill_at_collection"], r["left_out"],
                  time.monotonic() - started), flush=True)
        if name == "sensor":
            f = r["forecast"]
            for key, label in (("full", "full at"), ("threshold", "reaches threshold at")):
                print("   forecast %-21s error h: weekly profile median %s p90 %s (n=%d, %d 'not within 4 weeks'); "
                      "last-rate median %s p90 %s (n=%d, %d none)" % (
                          label, f[key]["median_h"], f[key]["p90_h"], f[key]["n"], f.get(key + "_none", 0),
                          f[key + "_base"]["median_h"], f[key + "_base"]["p90_h"], f[key + "_base"]["n"],
                          f.get(key + "_base_none", 0)))
            print("   threshold times inside the band (10th-90th percentile day): %d of %d" % (f["in_band"], f["band_n"]))
            print("   %d signed requests sent in %.0f s; a plan took %.2f s (median), %.2f s (max)" % (
                r["signed_requests"], r["send_s"], r["plan_s_median"], r["plan_s_max"]))
    if "fixed" in report and "sensor" in report:
        fx, se = report["fixed"], report["sensor"]
        report["saving_pct"] = {k: round(100 * (1 - se[k] / fx[k]), 1) for k in ("collections_per_week", "km_per_week")}
        print("   saving: collections %.1f %%, km %.1f %%; overflows %d (fixed) vs %d (sensor)" % (
            report["saving_pct"]["collections_per_week"], report["saving_pct"]["km_per_week"], fx["overflows"],
            se["overflows"]))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
