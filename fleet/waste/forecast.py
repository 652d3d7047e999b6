"""When will a bin be full? An explainable forecast from the bin's own fill history.

Method "weekly profile": the bin's fill rate for each hour of the week (168 buckets: weekday
and hour, where markets, weekends and office hours show), learnt from every rise between two
consecutive readings in the history (a drop of 10 points or more is an emptying and starts a
new cycle; a rise is spread evenly over the hours it spans). From the latest reading the
profile is stepped forward hour by hour to the threshold and to 100 %. With less than a week
of history the method is "recent rate": the median of the rates of the current cycle,
extrapolated in a straight line (and "no data" with fewer than two readings).

Confidence band: how far the bin's days strayed from its profile - for each whole day seen,
the fill it really added over what the profile expected; the 10th and 90th percentiles of those
ratios step the profile again, faster (earliest) and slower (latest). `full_earliest` steps it at
the largest ratio seen (the bin's busiest day): the planner's guard against an overflow before the
next shift. benchmarks/bins.py measures the error of "full at" against a naive last-rate baseline
(docs/performance.md).

A stale reading is no evidence: when the latest readings repeat the same fill while the profile
expected 5 points or more since the first of them (a wet or iced sensor sees the same distance;
the board flags it only after stuck_h), the forecast steps from the first of them, as if nothing
had been heard since (`basis.stale_since`).

Plain functions of [(t, pct), ...] (Unix seconds, ascending): the fleet, the benchmark and the
tests use the same code. Fill values are integers 0..100.
"""

HOUR = 3600
WEEK_H = 168
HORIZON_H = 28 * 24               # forecasts further than four weeks are "not within 4 weeks"
EMPTYING_DROP = 10                # points: a drop this large starts a new cycle
MIN_PROFILE_H = 7 * 24            # hours of history before the weekly profile is used
STALE_PTS = 5                     # points the profile must expect before a repeated reading is stale


def hour_of_week(t):
    """0..167: Monday 00:00 UTC is 0 (1970-01-01 was a Thursday: day 3)."""
    return int((t // HOUR + 3 * 24) % WEEK_H)


def _rises(readings):
    """(t0, t1, added points) of each consecutive pair within a cycle."""
    out = []
    for (t0, p0), (t1, p1) in zip(readings, readings[1:]):
        if t1 <= t0 or p0 - p1 >= EMPTYING_DROP:
            continue
        out.append((t0, t1, max(0, p1 - p0)))
    return out


def profile(readings):
    """(rate per hour-of-week in points/hour (None where never seen), hours observed)."""
    added = [0.0] * WEEK_H
    seen = [0.0] * WEEK_H
    total = 0.0
    for t0, t1, gain in _rises(readings):
        hours = (t1 - t0) / HOUR
        if hours > 48:                # a gap in the reports: too vague to place
            continue
        total += hours
        t, per_h = t0, gain / hours
        while t < t1:
            step = min(HOUR - t % HOUR, t1 - t)
            b = hour_of_week(t)
            added[b] += per_h * step / HOUR
            seen[b] += step / HOUR
            t += step
    rates = [added[b] / seen[b] if seen[b] > 0 else None for b in range(WEEK_H)]
    known = [r for r in rates if r is not None]
    mean = sum(known) / len(known) if known else 0.0
    return [mean if r is None else r for r in rates], total


def _percentile(values, q):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def day_ratios(readings, rates):
    """Actual over expected fill added, for each whole UTC day of rises in the history."""
    by_day = {}
    for t0, t1, gain in _rises(readings):
        if t1 - t0 > 48 * HOUR:
            continue
        day = t0 // 86400
        exp = _added(rates, t0, t1)
        a, e = by_day.get(day, (0.0, 0.0))
        by_day[day] = (a + gain, e + exp)
    return [a / e for a, e in by_day.values() if e > 0.5]


def _step(rates, t, pct, target, scale):
    """Unix time the profile (times scale) takes the fill from pct at t to target, or None."""
    if pct >= target:
        return t
    end = t + HORIZON_H * HOUR
    while t < end:
        step = HOUR - t % HOUR
        r = rates[hour_of_week(t)] * scale
        if r > 0 and pct + r * step / HOUR >= target:
            return int(t + (target - pct) / r * HOUR)
        pct += r * step / HOUR
        t += step
    return None


def _cycle(readings):
    """The readings since the last emptying."""
    start = 0
    for i in range(1, len(readings)):
        if readings[i - 1][1] - readings[i][1] >= EMPTYING_DROP:
            start = i
    return readings[start:]


def recent_rate(readings):
    """Median rate (points/hour) of the rises of the current cycle, or None."""
    c = _cycle(readings)
    rates = sorted(g / ((t1 - t0) / HOUR) for t0, t1, g in _rises(c) if t1 > t0)
    if not rates:
        if len(c) >= 2 and c[-1][0] > c[0][0]:
            return max(0.0, (c[-1][1] - c[0][1]) / ((c[-1][0] - c[0][0]) / HOUR))
        return None
    return rates[len(rates) // 2]


def _added(rates, t0, t1):
    """Points the profile expects between t0 and t1."""
    total, t = 0.0, t0
    while t < t1:
        step = min(HOUR - t % HOUR, t1 - t)
        total += rates[hour_of_week(t)] * step / HOUR
        t += step
    return total


def _fresh_since(readings, rates):
    """When the forecast should step from: the last reading, or the first of a run of repeats
    the profile says should have risen (a stale sensor)."""
    t, pct = readings[-1]
    i = len(readings) - 1
    while i > 0 and readings[i - 1][1] == pct:
        i -= 1
    first = readings[i][0]
    return first if first < t and _added(rates, first, t) >= STALE_PTS else t


def forecast(readings, threshold=80):
    """{'method', 'pct', 'at', 'threshold_at', 'full_at', 'earliest', 'latest', 'full_earliest',
    'rate_per_day', 'basis'} from the history [(t, pct), ...]; times are Unix seconds or None (not
    within four weeks)."""
    readings = [(int(t), int(p)) for t, p in readings if p is not None]
    out = {"method": "no data", "pct": None, "at": None, "threshold": threshold, "threshold_at": None,
           "full_at": None, "earliest": None, "latest": None, "full_earliest": None, "rate_per_day": None,
           "basis": {}}
    if not readings:
        return out
    t, pct = readings[-1]                 # from the last reading: nothing is known since
    out.update(pct=pct, at=t)
    rates, hours = profile(readings)
    if hours >= MIN_PROFILE_H:
        ratios = day_ratios(readings, rates)
        lo = max(0.2, _percentile(ratios, 0.1) or 1.0)
        hi = min(5.0, _percentile(ratios, 0.9) or 1.0)
        top = min(5.0, max(ratios or [1.0]))
        out.update(method="weekly profile", rate_per_day=round(sum(rates) / WEEK_H * 24, 2),
                   basis={"readings": len(readings), "hours": round(hours), "days_in_band": len(ratios),
                          "band_ratio": [round(lo, 2), round(hi, 2)], "busiest_day_ratio": round(top, 2)})
    else:
        r = recent_rate(readings)
        if r is None:
            return out
        rates, lo, hi, top = [r] * WEEK_H, 0.5, 1.5, 2.0
        out.update(method="recent rate", rate_per_day=round(r * 24, 2),
                   basis={"readings": len(_cycle(readings)), "hours": round(hours)})
    since = _fresh_since(readings, rates)
    if since < t:
        out["basis"]["stale_since"] = since
    out["threshold_at"] = _step(rates, since, pct, threshold, 1.0)
    out["full_at"] = _step(rates, since, pct, 100, 1.0)
    out["earliest"] = _step(rates, since, pct, threshold, hi)
    out["latest"] = _step(rates, since, pct, threshold, lo)
    out["full_earliest"] = _step(rates, since, pct, 100, top)
    return out


def last_rate(readings, threshold=80):
    """The naive baseline: the rate between the last two readings of the cycle, in a straight line."""
    c = _cycle([(int(t), int(p)) for t, p in readings if p is not None])
    if len(c) < 2 or c[-1][0] <= c[-2][0]:
        return None
    r = (c[-1][1] - c[-2][1]) / ((c[-1][0] - c[-2][0]) / HOUR)
    if r <= 0:
        return None
    return int(c[-1][0] + (threshold - c[-1][1]) / r * HOUR) if c[-1][1] < threshold else c[-1][0]
