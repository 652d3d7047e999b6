"""The virtual district's bins: seeded fill processes for benchmarks, the demo and tests.

Each bin fills at a base rate set by its waste type and its location (a market street fills
faster than a back lane), shaped by the hour of day and the weekday (weekends differ by type),
with market-day events (one weekday a week, near the market: three times the rate), a day's own
factor (some days are busier than others: lognormal with mean 1 and spread day_sigma, drawn for
each bin and day from the seed, so "what would have happened" can be replayed), noise on every
step, and now and then a sensor fault (a stuck reading for a day or two). Crews empty a bin
when told.
What a bin's board would report is decided by the firmware's own rules (firmware/app/binfill.py,
run here on CPython), so the fleet sees the events boards would send.

Deterministic for a seed: a run can be replayed.
"""

import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware" / "app"))
import binfill  # noqa: E402  (the firmware's rules, plain Python)

# points a day at an average hour, by waste type (a 240 L bin in a busy street)
BASE_PER_DAY = {"residual": 28.0, "recycling": 16.0, "organic": 22.0, "glass": 7.0, "paper": 12.0, "plastic": 14.0}
WEEKEND = {"residual": 1.3, "recycling": 1.4, "organic": 1.2, "glass": 1.6, "paper": 0.7, "plastic": 1.3}
HOURS = [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 1.2, 1.5, 1.4, 1.3, 1.4, 1.8, 1.6, 1.3, 1.2, 1.3, 1.6, 1.9, 1.7,
         1.3, 0.9, 0.6, 0.3]       # hour-of-day shape (mean 1)
MARKET_DAY = 2                    # Wednesday (Monday 0)
CENTRE = (31.2304, 121.4737)


class Bin:
    def __init__(self, bin_id, rng, lat, lon, waste_type, capacity_l=240, depth_mm=1000, day_sigma=0.0):
        self.id, self.lat, self.lon, self.waste_type = bin_id, lat, lon, waste_type
        self.capacity_l, self.depth_mm = capacity_l, depth_mm
        self.busy = rng.lognormvariate(0, 0.35)                 # this spot's own footfall
        self.market = rng.random() < 0.15
        self.rng = random.Random(rng.random())
        self.level = rng.uniform(0, 40)                         # true fill, %, may pass 100 (overflow)
        self.stuck_until = None
        self.state = {}                                         # the firmware's binfill state
        self.overflows = 0
        self.overflows_soon = 0                                 # of them, within a day of an emptying
        self.over = False
        self.emptied_at = None
        self.day_sigma = day_sigma
        self.salt = rng.getrandbits(32)
        self._day = (None, 1.0)

    def day_factor(self, t):
        """This bin's factor for t's day: the same for a seed whatever happens in the run."""
        day = int(t // 86400)
        if self._day[0] != day:
            f = 1.0
            if self.day_sigma > 0:
                s = self.day_sigma
                f = random.Random(self.salt * 100003 + day).lognormvariate(-s * s / 2, s)   # mean 1
            self._day = (day, f)
        return self._day[1]

    def rate_per_h(self, t):
        day = int((t // 86400 + 3) % 7)
        hour = int(t // 3600 % 24)
        r = BASE_PER_DAY[self.waste_type] / 24 * self.busy * HOURS[hour]
        if day >= 5:
            r *= WEEKEND[self.waste_type]
        if self.market and day == MARKET_DAY:
            r *= 3.0
        return r

    def advance(self, t, dt):
        """Fill for dt seconds from t (noise on each step)."""
        self.level += max(0.0, self.rate_per_h(t) * self.day_factor(t) * dt / 3600 * self.rng.gauss(1.0, 0.25))
        if self.level >= 100 and not self.over:
            self.overflows += 1
            if self.emptied_at is not None and t + dt - self.emptied_at <= 86400:
                self.overflows_soon += 1     # no plan with one shift a day could have caught it
            self.over = True

    def empty(self, t=None):
        self.level = self.rng.uniform(0, 3)
        self.over = False
        self.emptied_at = t

    def reaches(self, t, target, step=900, horizon_s=7 * 86400):
        """When the bin, left alone from t, would reach target % (its rates and day factors, no
        step noise), or None beyond the horizon: the truth a forecast is measured against."""
        level, end = self.level, t + horizon_s
        while level < target:
            if t >= end:
                return None
            gain = self.rate_per_h(t) * self.day_factor(t) * step / 3600
            if level + gain >= target:
                return t + (target - level) / gain * step
            level, t = level + gain, t + step
        return t

    def distance_mm(self, t):
        """What the sensor sees: the surface of the waste (a stuck sensor sees its last reading)."""
        if self.stuck_until is not None and t < self.stuck_until:
            return self.state.get("sm", 500)
        self.stuck_until = None
        if self.rng.random() < 0.0005:                          # a wet sensor for a day or two
            self.stuck_until = t + self.rng.uniform(1, 2) * 86400
        mm = self.depth_mm - min(self.level, 100) * self.depth_mm / 100 + self.rng.gauss(0, 6)
        return int(max(50, mm))

    def sample(self, t, cfg):
        """Events [(type, data)] the board would send at a sample at t."""
        mm = self.distance_mm(t)
        return binfill.measured(self.state, mm, "ok", int(t), cfg)


def make_district(n, seed=1, radius_km=3.0, day_sigma=0.0):
    rng = random.Random(seed)
    types = list(BASE_PER_DAY)
    weights = [5, 3, 3, 1, 1, 2]
    out = []
    for i in range(n):
        r = radius_km * math.sqrt(rng.random())
        a = rng.uniform(0, 2 * math.pi)
        lat = CENTRE[0] + r * math.cos(a) / 111.0
        lon = CENTRE[1] + r * math.sin(a) / (111.0 * math.cos(math.radians(CENTRE[0])))
        out.append(Bin("B%04d" % i, rng, round(lat, 6), round(lon, 6), rng.choices(types, weights)[0],
                       day_sigma=day_sigma))
    return out
