"""Smart bins on the seeded virtual district (boards/virtual/district.py): forecast error,
collections and route km against a sensible fixed schedule, planning time.

    python benchmarks/bins.py [--bins 200] [--weeks 8] [--seed 1] [--plan-bins 1000] [--trucks 5]

1. Forecast error of "reaches its threshold at": every day at the shift start (06:00 UTC) from
   week 3 on, for each bin under its threshold, the fleet's forecast (fleet/waste/forecast.py,
   weekly profile) and the naive last-rate baseline, against the true crossing time (errors in
   hours: median, p90; only crossings within 7 days, before an emptying).
2. Collections and route km per week, and overflows (bins that went over 100 % before they were
   emptied), for two policies on the same district: a sensible fixed schedule (each bin emptied
   k times a week on fixed weekdays, k the rhythm that keeps its average weekly fill under the
   threshold) and the sensor plan (fleet/waste/planning.py's rule: at or forecast to reach the
   threshold before the next shift). Routes by the same solver (PyVRP), 2 trucks.
3. Planning time for --plan-bins bins and --trucks trucks (target <= 10 s on two cores).

Readings are what boards would report: the firmware's rules (firmware/app/binfill.py) decide
when a bin sends `fill`. Results go to docs/performance.md by hand.
"""

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "firmware" / "app"))

from boards.virtual import district  # noqa: E402
from fleet.waste import forecast, planning  # noqa: E402
from devproto.binconfig import KEYS  # noqa: E402

CFG = {k: v[3] for k, v in KEYS.items()}
T0 = 1798761600                   # 2027-01-01 00:00 UTC, a Friday
STEP = CFG["sample_min"] * 60
SHIFT_H = 6
THRESHOLD = 80
DEPOT = district.CENTRE


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def simulate(bins, weeks, policy, rhythm=None, trucks=2, truck_l=4000, plan_time=1.0, evaluate=False):
    """Run the district for weeks under policy 'fixed' or 'sensor'. Returns the figures."""
    reports = {b.id: [] for b in bins}
    crossing = {}                                  # bin id -> true time it reached the threshold
    errors, base_errors = [], []
    pending = {}                                   # (bin id) -> [(made_at, predicted, baseline)]
    collections, km, days = 0, 0.0, weeks * 7
    for day in range(days):
        for h in range(0, 86400, STEP):
            t = T0 + day * 86400 + h
            if h == SHIFT_H * 3600:
                due = []
                for b in bins:
                    if policy == "fixed":
                        k = rhythm[b.id]
                        if (day % 7) in [int(i * 7 / k) for i in range(k)]:
                            due.append(b)
                    else:
                        f = forecast.forecast(reports[b.id], THRESHOLD)
                        if (f["pct"] is not None and f["pct"] >= THRESHOLD) or \
                                (f["threshold_at"] is not None and f["threshold_at"] < t + 86400):
                            due.append(b)
                if evaluate and day >= 14:
                    for b in bins:
                        if b.level < THRESHOLD and b.id not in crossing:
                            f = forecast.forecast(reports[b.id], THRESHOLD)
                            pending.setdefault(b.id, []).append((t, f["threshold_at"], forecast.last_rate(reports[b.id], THRESHOLD)))
                if due:
                    stops = [{"id": b.id, "lat": b.lat, "lon": b.lon, "litres": b.capacity_l} for b in due]
                    res = planning.solve(stops, DEPOT, trucks, truck_l, 8 * 3600, time_limit_s=plan_time)
                    done = {s["id"] for r in res["routes"] for s in r}
                    km += sum(res["km"])
                    for b in due:
                        if b.id in done:
                            collections += 1
                            b.empty()
                            crossing.pop(b.id, None)
                            pending.pop(b.id, None)
            for b in bins:
                before = b.level
                b.advance(t, STEP)
                if before < THRESHOLD <= b.level:
                    crossing[b.id] = t
                    for made, pred, base in pending.pop(b.id, []):
                        if t - made <= 7 * 86400:
                            if pred is not None:
                                errors.append(abs(pred - t) / 3600)
                            if base is not None:
                                base_errors.append(abs(base - t) / 3600)
                for kind, data in b.sample(t, CFG):
                    if kind in ("fill", "emptied") and data.get("pct", data.get("to")) is not None:
                        reports[b.id].append((t, data["pct"] if kind == "fill" else data["to"]))
    return {"collections_per_week": collections / weeks, "km_per_week": km / weeks,
            "overflows": sum(b.overflows for b in bins), "errors": errors, "base_errors": base_errors}


def fixed_rhythm(bins, weeks=4):
    """Collections a week that keep each bin under the threshold on average (from its true mean rate)."""
    out = {}
    for b in bins:
        weekly = sum(b.rate_per_h(T0 + h * 3600) for h in range(7 * 24))
        k = max(1, math.ceil(weekly / THRESHOLD))
        out[b.id] = min(7, k)
    return out


def planning_time(n, trucks):
    bins = district.make_district(n, seed=7)
    stops = [{"id": b.id, "lat": b.lat, "lon": b.lon, "litres": 200} for b in bins]
    started = time.monotonic()
    res = planning.solve(stops, DEPOT, trucks, 60000, 10 * 3600, time_limit_s=8.0)
    return time.monotonic() - started, res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bins", type=int, default=200)
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plan-bins", type=int, default=1000)
    ap.add_argument("--trucks", type=int, default=5)
    a = ap.parse_args()
    print("== planning time: %d bins, %d trucks" % (a.plan_bins, a.trucks))
    secs, res = planning_time(a.plan_bins, a.trucks)
    print("   %.2f s (status %s, %d planned, %d left, %.1f km)" % (
        secs, res["status"], sum(len(r) for r in res["routes"]), len(res["left"]), sum(res["km"])))
    print("== %d bins, %d weeks, seed %d" % (a.bins, a.weeks, a.seed))
    sensor = simulate(district.make_district(a.bins, a.seed), a.weeks, "sensor", evaluate=True)
    e, be = sensor["errors"], sensor["base_errors"]
    print("   forecast 'reaches threshold at' error, hours: weekly profile median %.1f p90 %.1f (n=%d); "
          "last-rate baseline median %.1f p90 %.1f (n=%d)" % (
              statistics.median(e), pct(e, 0.9), len(e), statistics.median(be), pct(be, 0.9), len(be)))
    bins = district.make_district(a.bins, a.seed)
    fixed = simulate(bins, a.weeks, "fixed", rhythm=fixed_rhythm(bins))
    for name, r in (("fixed schedule", fixed), ("sensor plan", sensor)):
        print("   %-15s collections/week %.1f, route km/week %.1f, overflows %d" % (
            name, r["collections_per_week"], r["km_per_week"], r["overflows"]))
    print("   saving: collections %.0f %%, km %.0f %%" % (
        100 * (1 - sensor["collections_per_week"] / fixed["collections_per_week"]),
        100 * (1 - sensor["km_per_week"] / fixed["km_per_week"])))


if __name__ == "__main__":
    main()
