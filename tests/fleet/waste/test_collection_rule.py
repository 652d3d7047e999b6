"""Which bins a shift collects (planning.due with forecast.forecast): a bin far from full waits,
one that would pass its threshold before the next crew comes goes, one that could overflow on
a day like its busiest goes; a stale reading is no evidence; a bin emptied at a low fill still
confirms its stop."""

import time

from binkit import add_bin, admin_headers, bin_device, fill
from fleet.waste import forecast, planning

HOUR, DAY = 3600, 86400
MONDAY = 1798934400              # 2027-01-04 00:00 UTC


def steady(days, per_day, start=MONDAY, every_h=6, level=0.0):
    """Readings of a bin filling per_day points a day, every every_h hours, from start."""
    out = []
    for i in range(int(days * 24 / every_h)):
        out.append((start + i * every_h * HOUR, int(level)))
        level += per_day * every_h / 24
        if level >= 90:
            level = 0.0             # emptied
    return out


def bin_row(threshold=80, status="ok"):
    return {"threshold_pct": threshold, "status": status}


def test_a_bin_far_from_full_waits_one_that_would_pass_its_threshold_goes():
    history = steady(14, 20)                       # 20 points a day, two weeks of it
    now = history[-1][0] + HOUR
    shift = now + 5 * HOUR
    f = forecast.forecast(history, 80)
    assert f["method"] == "weekly profile"
    low = [(t, p) for t, p in history] + [(now, 30)]
    assert planning.due(bin_row(), forecast.forecast(low, 80), False, shift + DAY) is None   # 30 %: two days to go
    high = history + [(now, 66)]
    why = planning.due(bin_row(), forecast.forecast(high, 80), False, shift + DAY)
    assert why["code"] == "threshold_before_next"           # 66 % + a day's 20 points passes 80 %
    at = planning.due(bin_row(), forecast.forecast(history + [(now, 83)], 80), False, shift + DAY)
    assert (at["code"], at["params"]) == ("at_threshold", {"pct": 83, "threshold": 80})


def test_a_bin_that_could_overflow_on_a_busy_day_goes():
    history = []
    t = MONDAY
    for day in range(14):                          # quiet days of 15 points, every fourth one of 60
        gain = 60 if day % 4 == 3 else 15
        level = 0
        for h in range(0, 24, 6):
            history.append((t + day * DAY + h * HOUR, level))
            level += gain // 4
    now = MONDAY + 14 * DAY
    f = forecast.forecast(history + [(now, 60)], 95)
    assert f["basis"]["busiest_day_ratio"] > 1.5
    assert f["threshold_at"] > now + DAY and f["full_earliest"] < now + DAY
    why = planning.due(bin_row(threshold=95), f, False, now + DAY)
    assert why["code"] == "may_overflow"


def test_a_reading_that_does_not_move_while_the_bin_should_fill_is_stale():
    history = steady(14, 24)
    last_t, _ = history[-1]
    frozen = history + [(last_t + 6 * HOUR, 40), (last_t + 12 * HOUR, 40), (last_t + 18 * HOUR, 40),
                        (last_t + 24 * HOUR, 40)]
    f = forecast.forecast(frozen, 80)
    assert f["basis"]["stale_since"] == last_t + 6 * HOUR     # stepped from the first of the repeats
    # trusted, the last repeat would put 80 % 40 points (~40 h) after last_t + 24 h
    assert f["threshold_at"] < last_t + 24 * HOUR + 30 * HOUR
    quiet = history + [(last_t + HOUR, 40), (last_t + 2 * HOUR, 40)]      # ~2 points expected: no news
    assert "stale_since" not in forecast.forecast(quiet, 80)["basis"]


def test_fire_and_an_owed_stop_come_first():
    f = forecast.forecast([], 80)
    assert planning.due(bin_row(status="burning"), f, False, MONDAY)["code"] == "fire"
    assert planning.due(bin_row(), f, True, MONDAY)["code"] == "carried"
    assert planning.due(bin_row(), f, False, MONDAY) is None           # nothing known: waits


def test_a_bin_emptied_at_a_low_fill_confirms_its_stop(client, db):
    admin = admin_headers(db)
    dev = bin_device(client, db)
    add_bin(client, admin, "LOW", device=dev)
    assert dev.events([fill(1, 85)]).status_code == 200
    now = int(time.time())
    plan = client.post("/api/v1/waste/plans", json={"trucks": 1, "shift_start": now - 60}, headers=admin).json()
    assert [s["bin_id"] for s in plan["stops"]] == ["LOW"]
    # an earlier reading of 8 % (before the shift began) proves nothing; one after it does
    assert dev.events([fill(2, 8, t=now - 120)]).status_code == 200
    assert client.get("/api/v1/waste/plans/latest", headers=admin).json()["stops"][0]["state"] == "planned"
    assert dev.events([fill(3, 4, t=now)]).status_code == 200
    assert client.get("/api/v1/waste/plans/latest", headers=admin).json()["stops"][0]["state"] == "confirmed"
