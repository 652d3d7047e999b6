# The smart bin (firmware/app/binfill.py, roles/smart_bin.py, drivers/tof.py, docs/smart-bins.md):
# every rule on its own (readings -> distance and quality, fill, fill/emptied/sensor_fault
# reports, fire by threshold and by rise), then the role on the runtime with FAKE hardware
# (echo pulses, an MPU6050 and a VL53L1X as I2C registers) and the FakeFleet: the first
# report, quiet wakes, fire, knocked over, lid opening, black bag, motion wake armed,
# config from the fleet, the battery model. MicroPython.
import sys
import math
import time
import asyncio
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import machine  # noqa: E402  (tests/firmware/mp/fakehw: FAKE hardware)
import esp32  # noqa: E402
import binfill  # noqa: E402
from fakectl import URL, fleet  # noqa: E402
from devproto.binconfig import KEYS  # noqa: E402

CFG = dict((k, v[3]) for k, v in KEYS.items())
TRIG, ECHO, SCL, SDA, INT, ADC = 18, 19, 22, 21, 33, 34
BOARD = {"name": "virtual", "chip": "esp32",
         "pins": {"us_trig": TRIG, "us_echo": ECHO, "i2c_scl": SCL, "i2c_sda": SDA,
                  "accel_int": INT, "battery_adc": ADC},
         "battery_divider": 2.0, "accel": "mpu6050", "accel_addr": 0x68, "ultrasonic": "jsn-sr04t"}


# ---- the rules ------------------------------------------------------------------------

def test_judge_median_rejects_outliers():
    eq(binfill.judge([500, 502, 498, 1500, 501, 60, 499], 250, 1200), (500, "ok"))


def test_judge_quality_flags():
    eq(binfill.judge([None] * 7, 250, 1200), (None, "no_echo"))
    eq(binfill.judge([240, 238, 241, 239, 240, 242, 240], 250, 1200)[1], "too_close")   # bag under it
    eq(binfill.judge([300, None, 900, None, 600, None, 450], 250, 1200)[1], "unstable")  # no agreement
    eq(binfill.judge([1500, 1502, 1499, 1501, 1500], 250, 1200)[1], "unstable")         # past the floor
    eq(binfill.judge([800, 801, None, None, None, None, 802], 250, 1200)[1], "unstable")  # 3 of 7


def test_fill_from_depth_and_offset():
    eq(binfill.fill_pct(1100, 1000, 100), 0)
    eq(binfill.fill_pct(100, 1000, 100), 100)
    eq(binfill.fill_pct(600, 1000, 100), 50)
    eq(binfill.fill_pct(50, 1000, 100), 100)        # above the rim: full, never > 100
    eq(binfill.fill_pct(1300, 1000, 100), 0)        # never < 0


def test_fill_reported_on_change_or_after_hours():
    s = {}
    t = 1800000000
    ev = binfill.measured(s, 1000, "ok", t, CFG)      # 0 % at first: reported
    eq(ev, [("fill", {"q": "ok", "pct": 0, "mm": 1000})])
    eq(binfill.measured(s, 970, "ok", t + 900, CFG), [])             # 3 points: not yet
    ev = binfill.measured(s, 950, "ok", t + 1800, CFG)               # 5 points: reported
    eq(ev[0][1]["pct"], 5)
    eq(binfill.measured(s, 952, "ok", t + 3600, CFG), [])
    ev = binfill.measured(s, 953, "ok", t + 1800 + 6 * 3600, CFG)    # 6 h without a report
    eq(ev[0][0], "fill")


def test_emptied_on_a_drop_of_30_points():
    s = {}
    t = 1800000000
    binfill.measured(s, 200, "ok", t, CFG)                           # 80 %
    ev = binfill.measured(s, 950, "ok", t + 900, CFG)                # 5 %
    eq(ev[0], ("emptied", {"from": 80, "to": 5}))
    eq(ev[1][1]["pct"], 5)
    ev = binfill.measured(s, 700, "ok", t + 1800, CFG)               # 30 %: filled again
    eq([e[0] for e in ev], ["fill"])


def test_sensor_fault_after_four_bad_measurements_then_recovers():
    s = {}
    t = 1800000000
    binfill.measured(s, 500, "ok", t, CFG)
    for i in range(3):
        eq([e[0] for e in binfill.measured(s, None, "no_echo", t + 900 * (i + 1), CFG)], [])
    ev = binfill.measured(s, None, "no_echo", t + 3600, CFG)
    eq(ev[0], ("sensor_fault", {"kind": "no_echo", "detail": "4 bad measurements"}))
    eq(ev[1], ("fill", {"q": "no_echo"}))                            # with the flag, no pct
    eq(binfill.measured(s, None, "no_echo", t + 4500, CFG), [])      # once
    binfill.measured(s, 500, "ok", t + 5400, CFG)
    eq(s["sf"], None)


def test_stuck_sensor_reported_once_after_stuck_h():
    s = {}
    t = 1800000000
    binfill.measured(s, 431, "ok", t, CFG)
    n = 0
    for i in range(1, 48 * 4 + 1):                                   # 48 h of the same 431 mm
        n += len([e for e in binfill.measured(s, 431 + i % 2, "ok", t + 900 * i, CFG)
                  if e[0] == "sensor_fault"])
    eq(n, 1)
    eq(s["sf"], "stuck")
    binfill.measured(s, 300, "ok", t + 900 * 200, CFG)               # it moves: cleared
    eq(s["sf"], None)


def test_fire_at_the_threshold_once():
    s = {}
    t = 1800000000
    eq(binfill.fire(s, 250, t, CFG), None)
    f = binfill.fire(s, 705, t + 900, CFG)
    eq(f["why"], "threshold")
    eq(f["temp_c"], 70.5)
    eq(binfill.fire(s, 720, t + 960, CFG), None)                     # reported once
    binfill.fire(s, 300, t + 4000, CFG)
    eq(s["fi"], 0)                                                   # re-armed when cool


def test_fire_on_a_rise_of_15_degrees_in_10_minutes():
    s = {}
    t = 1800000000
    binfill.fire(s, 200, t, CFG)
    ok(not binfill.watching(s, 200, CFG))
    binfill.fire(s, 240, t + 60, CFG)
    ok(binfill.watching(s, 240, CFG), "a 4 degree rise: every minute from now on")
    f = None
    for i in range(2, 9):
        f = f or binfill.fire(s, 200 + 25 * i, t + 60 * i, CFG)
    eq(f["why"], "rise")
    ok(f["rise_c"] >= 15, f)
    s = {}                                                           # the same rise over 20 min: none
    for i in range(21):
        eq(binfill.fire(s, 200 + 8 * i, t + 60 * i, CFG), None)


# ---- the role on the runtime ------------------------------------------------------------

def flash(power="battery", wake="none", ident=None, board=None):
    if ident is None:
        ident = {"role": "smart_bin", "board": "virtual", "fleet_url": URL,
                 "enroll_token": "et_sb" + str(time.ticks_us())}
    ident = dict(ident)
    ident["power"] = power
    store.write_json("/config.json", ident)
    store.write_json("/board.json", board or BOARD)
    store.write_json("/state/boot.json", {"slot": "a", "tries": 0, "pending": True,
                                          "reset_cause": "power_on" if wake == "none" else "deepsleep",
                                          "wake_reason": wake, "version": "0.1.0"})
    machine.FAKE.adc_uv[ADC] = 1800000


def world(distance_mm=600, temp_c10=200, tilt=0):
    """The FAKE sensors: the echo for a distance at 20 C, an MPU6050 tilted and warm."""
    machine.FAKE.echo_us = None if distance_mm is None else distance_mm * 20000 // 3434
    t = math.radians(tilt)
    y, z = int(math.sin(t) * 16384), int(math.cos(t) * 16384)
    raw = (temp_c10 - 365) * 340 // 10
    machine.FAKE.i2c[0x68] = {0x75: b"\x68", 0x3A: b"\x00",
                              0x3B: bytes((0, 0, (y >> 8) & 255, y & 255, (z >> 8) & 255, z & 255)),
                              0x41: bytes(((raw >> 8) & 255, raw & 255))}


def runtime():
    sys.modules.pop("roles.smart_bin", None)
    import roles
    if hasattr(roles, "smart_bin"):
        delattr(roles, "smart_bin")
    import supervisor
    rt = supervisor.Runtime()
    import roles.smart_bin as sb
    return rt, sb


async def events(dev_id, etype=None):
    st = await fleet("/_fake/state?device_id=" + dev_id)
    return [e for e in st["events"] if etype is None or e["type"] == etype], st


async def first_boot(**w):
    flash()
    world(**w)
    rt, sb = runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    return dict(rt.config.ident), rt, d


def rtc_sample_due(rt):
    """Make the next wake a sample wake (as if sample_min had passed)."""
    sch = dict(rt.rtc.get("sch") or {})
    sch["sample"] = rt.clock.raw() - 3600
    rt.rtc.set("sch", sch)


async def test_first_boot_reports_fill_temperature_and_sleeps_until_the_next_sample():
    ident, rt, d = await first_boot(distance_mm=600)
    ev, _ = await events(ident["device_id"], "fill")
    eq(len(ev), 1)
    data = ev[0]["data"]
    eq((data["pct"], data["q"]), (40, "ok"))                 # 600 mm down a 1000 mm bin
    ok(abs(data["mm"] - 600) <= 2, data)
    eq((data["temp_c"], data["tilt"], data["battery_v"]), (20.0, 0, 3.6))
    ok(14 * 60000 <= d[1] <= 15 * 60000, d)                  # next sample in 15 min
    eq(esp32.armed[-1], ("ext1", (INT,), True))              # the accelerometer wakes it
    writes = [w for w in machine.FAKE.i2c_writes if w[0] == 0x68]
    ok((0x68, 0x38, b"\x40") in writes and (0x68, 0x6B, b"\x20") in writes, writes)
    import devproto                                          # the bin's config keys are kept,
    ok("devproto.binconfig" not in sys.modules and not hasattr(devproto, "binconfig"))   # not their module


async def test_quiet_wake_without_change_uses_no_network():
    ident, rt0, _ = await first_boot(distance_mm=600)
    _, st0 = await events(ident["device_id"])
    rtc_sample_due(rt0)
    flash(wake="timer", ident=ident)
    world(distance_mm=603)                                   # 0.3 points: nothing to say
    rt, sb = runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    ok(rt.quiet, "no Wi-Fi, no hello")
    _, st = await events(ident["device_id"])
    eq(st["requests"], st0["requests"])
    eq(len(st["hellos"]), len(st0["hellos"]))
    eq(rt.rtc.get("sb")["lf"], 40)                           # measured all the same


async def test_change_of_five_points_is_sent_at_once():
    ident, rt0, _ = await first_boot(distance_mm=600)
    rtc_sample_due(rt0)
    flash(wake="timer", ident=ident)
    world(distance_mm=540)
    rt, sb = runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    ok(not rt.quiet)
    ev, _ = await events(ident["device_id"], "fill")
    eq([e["data"]["pct"] for e in ev], [40, 46])


async def test_fire_is_reported_at_once_and_watched_every_minute():
    ident, rt0, _ = await first_boot(distance_mm=600, temp_c10=250)
    flash(wake="timer", ident=ident)                         # not a sample wake: the temperature only
    world(distance_mm=600, temp_c10=760)
    rt, sb = runtime()
    d = await rt.run()
    ev, _ = await events(ident["device_id"], "fire")
    eq(len(ev), 1)
    eq((ev[0]["data"]["temp_c"], ev[0]["data"]["why"]), (76.0, "threshold"))
    ok(d[1] <= 60000, "watched every minute: %s" % (d,))


async def test_knocked_over_is_tilted_after_tilt_s_and_back_up_is_reported():
    ident, rt0, _ = await first_boot()
    await fleet("/_fake/ctl", {"device_id": ident["device_id"], "config": {"tilt_s": 5}})
    flash(wake="ext1", ident=ident)
    world(tilt=85)
    rt, sb = runtime()
    rt.quiet = False
    t0 = time.ticks_ms()
    d = await rt.run()
    ev, _ = await events(ident["device_id"], "tilted")
    eq([(e["data"]["on"], e["data"]["deg"] >= 80) for e in ev], [(True, True)])
    ok(time.ticks_diff(time.ticks_ms(), t0) >= 5000, "after tilt_s from the config")
    flash(wake="timer", ident=ident)
    world(tilt=2)
    rt, sb = runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    ev, _ = await events(ident["device_id"], "tilted")
    eq([e["data"]["on"] for e in ev], [True, False])


async def test_lid_opened_briefly_is_a_lid_open_not_tilted():
    ident, rt0, _ = await first_boot()
    await fleet("/_fake/ctl", {"device_id": ident["device_id"], "config": {"tilt_s": 10, "lid_events": 1}})
    # a wake that gets the config first (a 5-point change), then the lid opens
    rtc_sample_due(rt0)
    flash(wake="timer", ident=ident)
    world(distance_mm=500)
    rt, sb = runtime()
    await rt.run()
    eq(rt.cfg["lid_events"], 1)
    flash(wake="ext1", ident=ident)
    world(tilt=100)

    async def close():
        await asyncio.sleep_ms(2500)
        world(tilt=1)
    asyncio.create_task(close())
    rt, sb = runtime()
    await rt.run()
    ev, _ = await events(ident["device_id"])
    kinds = [e["type"] for e in ev]
    ok("lid_open" in kinds and "tilted" not in kinds, kinds)


async def test_measurement_with_the_lid_open_is_skipped():
    ident, rt0, _ = await first_boot(distance_mm=600)
    rtc_sample_due(rt0)
    flash(wake="timer", ident=ident)
    world(distance_mm=2000, tilt=30)                         # sensor on the open lid sees the sky
    rt, sb = runtime()
    await rt.run()
    ev, _ = await events(ident["device_id"], "fill")
    eq(len(ev), 1)
    eq(rt.rtc.get("sb")["lf"], 40)


async def test_tof_sensor_and_a_black_bag():
    tof = {0x010F: b"\xea\xcc", 0x31: b"\x01", 0x89: b"\x09", 0x96: b"\x01\x2c"}   # valid, 300 mm
    board = dict(BOARD, tof="vl53l1x")
    flash(board=board)
    world()
    machine.FAKE.i2c[0x29] = tof
    rt, sb = runtime()
    await rt.run()
    ident = rt.config.ident
    ev, _ = await events(ident["device_id"], "fill")
    eq((ev[0]["data"]["pct"], ev[0]["data"]["mm"]), (70, 300))
    loaded = [w for w in machine.FAKE.i2c_writes if w[0] == 0x29 and w[1] == 0x2D]
    eq(len(loaded[0][2]), 91)                                # ST's default configuration
    tof[0x89] = b"\x04"                                      # signal below threshold: a black bag
    for i in range(4):
        rtc_sample_due(rt)
        flash(wake="timer", ident=ident, board=board)
        rt, sb = runtime()
        await rt.run()
    ev, _ = await events(ident["device_id"])
    faults = [e["data"] for e in ev if e["type"] == "sensor_fault"]
    eq(faults, [{"kind": "no_echo", "detail": "4 bad measurements"}])


async def test_missing_accelerometer_is_a_sensor_fault_and_fill_still_works():
    flash()
    world()
    del machine.FAKE.i2c[0x68]
    rt, sb = runtime()
    await rt.run()
    ev, _ = await events(rt.config.ident["device_id"])
    kinds = [e["type"] for e in ev]
    ok("sensor_fault" in kinds and "fill" in kinds, kinds)


async def test_depth_and_offset_from_the_fleet():
    ident, rt0, _ = await first_boot(distance_mm=600)
    await fleet("/_fake/ctl", {"device_id": ident["device_id"],
                               "config": {"bin_depth_mm": 800, "sensor_offset_mm": 200}})
    rtc_sample_due(rt0)
    flash(wake="timer", ident=ident)
    world(distance_mm=540)                                   # 6 points: sent, and config comes back
    rt, sb = runtime()
    await rt.run()
    eq((rt.cfg["bin_depth_mm"], rt.cfg["sensor_offset_mm"]), (800, 200))
    rtc_sample_due(rt)
    flash(wake="timer", ident=ident)
    rt, sb = runtime()
    await rt.run()
    eq(rt.cfg["bin_depth_mm"], 800)                          # kept on flash, merged at setup
    eq(rt.rtc.get("sb")["lf"], 58)                           # (800 + 200 - 540) / 800


def test_battery_model_lasts_five_years_at_the_defaults():
    import binpower
    days = binpower.life_days()
    ok(days >= 5 * 365, "%d days" % days)
    ok(binpower.life_days(sample_min=1) < days / 3, "a sample a minute costs years")


mptest.main(globals())
