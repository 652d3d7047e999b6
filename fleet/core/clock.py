"""UTC time, one format everywhere: ISO 8601 with milliseconds and a 'Z'.

The database stores times as these strings (sortable, readable in any SQLite shell);
the device protocol speaks Unix seconds. Conversions live here only.

The fleet's clock is injectable: every part asks now() (never time.time()), and use(source)
swaps the source for a simulation - benchmarks/bins.py runs eight weeks of a district through
the real signed device API with simulated timestamps, the server's clock following them.
"""

import datetime as _dt
import math
import time

_UTC = _dt.timezone.utc


_source = [time.time]


def now():
    """Unix seconds (float) by the fleet's clock."""
    return _source[0]()


def use(source):
    """Make source() (Unix seconds) the fleet's clock; returns the previous source. Tests and
    simulations only: a server runs on time.time."""
    previous = _source[0]
    _source[0] = source
    return previous


_last_second = [(None, "")]     # (whole second, its "YYYY-MM-DDTHH:MM:SS." text)


def iso(ts=None):
    """'2024-05-01T12:00:00.123Z' for Unix time ts (default: now).

    The text of the whole second is kept from the call before: a status save formats the
    last-seen time of every device heard from (10,000 of them, within a few seconds), and
    through datetime that took ~40 ms with the event loop waiting."""
    ts = now() if ts is None else ts
    frac, whole = math.modf(ts)
    micro = round(frac * 1e6)           # as datetime.fromtimestamp rounds
    if micro < 0:
        micro += 1_000_000
        whole -= 1
    elif micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1
    second, text = _last_second[0]
    if second != whole:
        text = _dt.datetime.fromtimestamp(whole, _UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _last_second[0] = (whole, text)
    return text + "%03dZ" % (micro // 1000)


def parse_iso(text):
    """Unix seconds for a string written by iso(); None stays None."""
    if text is None:
        return None
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso_after(seconds, start=None):
    return iso((now() if start is None else start) + seconds)
