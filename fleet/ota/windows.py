"""Maintenance windows: when a rollout may offer updates. A window is a cron expression (when it
opens, in its time zone), a duration and a time zone, e.g. {"cron": "0 2 * * *", "duration_s":
7200, "tz": "Asia/Shanghai"}: every night 02:00-04:00 local time. No windows: any time.
Offers already made continue outside a window; only new ones wait."""

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from fleet.errors import Invalid


def check(windows):
    if not isinstance(windows, list):
        raise Invalid("windows is a list of {cron, duration_s, tz}")
    out = []
    for w in windows:
        if not isinstance(w, dict) or set(w) - {"cron", "duration_s", "tz"} or "cron" not in w:
            raise Invalid("a window is {\"cron\": \"0 2 * * *\", \"duration_s\": 7200, \"tz\": \"Asia/Shanghai\"}")
        if not isinstance(w["cron"], str) or not croniter.is_valid(w["cron"]) or len(w["cron"].split()) != 5:
            raise Invalid("window cron %r is not a 5-field cron expression" % (w.get("cron"),))
        duration = w.get("duration_s", 3600)
        if not isinstance(duration, int) or not 60 <= duration <= 7 * 86400:
            raise Invalid("window duration_s is 60 s to 7 days")
        tz = w.get("tz", "UTC")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise Invalid("window tz %r is not a time zone name (e.g. Asia/Shanghai)" % (tz,))
        out.append({"cron": w["cron"], "duration_s": duration, "tz": tz})
    return out


def is_open(windows, now):
    """True when there are no windows, or `now` (Unix time) falls inside one of them."""
    if not windows:
        return True
    for w in windows:
        local = dt.datetime.fromtimestamp(now, ZoneInfo(w["tz"]))
        # the last time it opened at or before now (croniter steps back from just after now)
        opened = croniter(w["cron"], local + dt.timedelta(seconds=1)).get_prev(dt.datetime)
        if (local - opened).total_seconds() < w["duration_s"]:
            return True
    return False
