"""The fleet's one time format: ISO 8601 UTC with milliseconds and 'Z', as datetime writes it."""

import datetime as dt

import pytest

from fleet.core import clock


def _by_datetime(ts):
    moment = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


@pytest.mark.parametrize("ts", [0, 0.0004, 1_796_000_000, 1_796_000_000.123, 1_796_000_000.9994,
                                1_796_000_000.9995, 1_796_000_000.9999996, 1_796_000_001.0000004,
                                1_796_000_059.9999999, 951_825_599.9999995, 4_102_444_799.999])
def test_iso_writes_what_datetime_writes_at_every_edge_of_a_second(ts):
    assert clock.iso(ts) == _by_datetime(ts)


def test_iso_of_times_in_the_same_second_and_then_the_next():
    assert [clock.iso(t) for t in (1_796_000_000.001, 1_796_000_000.5, 1_796_000_001.25, 1_796_000_000.75)] == [
        "2026-11-30T00:53:20.001Z", "2026-11-30T00:53:20.500Z", "2026-11-30T00:53:21.250Z",
        "2026-11-30T00:53:20.750Z"]
    assert clock.parse_iso(clock.iso(1_796_000_001.25)) == 1_796_000_001.25
