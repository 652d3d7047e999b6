"""UTC time, one format everywhere: ISO 8601 with milliseconds and a 'Z'.

The database stores times as these strings (sortable, readable in any SQLite shell);
the device protocol speaks Unix seconds. Conversions live here only.
"""

import datetime as _dt
import time

_UTC = _dt.timezone.utc


def now():
    """Unix seconds (float)."""
    return time.time()


def iso(ts=None):
    """'2024-05-01T12:00:00.123Z' for Unix time ts (default: now)."""
    moment = _dt.datetime.fromtimestamp(now() if ts is None else ts, _UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def parse_iso(text):
    """Unix seconds for a string written by iso(); None stays None."""
    if text is None:
        return None
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso_after(seconds, start=None):
    return iso((now() if start is None else start) + seconds)
