# The smart bin scenario in the firmware heap budget (like scenario_heap_cb.py for the call
# button): a first boot (enroll, hello, a fill report, sleep), then a quiet sample wake (no
# network), then a sample wake whose fill changed (Wi-Fi, hello, fill sent, sleep). Run by
# tests/firmware/test_smart_bin_heap.py through heapgate.run_scenario: every module compiled
# by mpy-cross, HEAP_LIMIT = the heap + what this harness and the FAKE hardware modules take.
import gc
import time
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import machine  # noqa: E402

BOARD = {"name": "virtual", "pins": {"us_trig": 18, "us_echo": 19, "i2c_scl": 22, "i2c_sda": 21,
                                     "accel_int": 33, "battery_adc": 34},
         "battery_divider": 2.0, "accel": "mpu6050", "accel_addr": 104, "ultrasonic": "jsn-sr04t"}


def _boot(wake):
    store.write_json("/state/boot.json", {"slot": "a", "tries": 0, "pending": True,
                                          "reset_cause": "power_on" if wake == "none" else "deepsleep",
                                          "wake_reason": wake, "version": "0.1.0"})


def _world(mm):
    machine.FAKE.echo_us = mm * 20000 // 3434
    machine.FAKE.i2c[0x68] = {0x75: b"\x68", 0x3A: b"\x00", 0x3B: b"\x00\x00\x00\x00\x40\x00",
                              0x41: b"\xf2\x00"}
    machine.FAKE.adc_uv[34] = 1800000


def _due():
    import rtcmem
    r = rtcmem.RtcMem()
    sch = dict(r.get("sch") or {})
    sch["sample"] = 0
    r.set("sch", sch)
    r.save()


async def _wake(wake, mm):
    _boot(wake)
    _world(mm)
    gc.collect()
    import supervisor
    rt = supervisor.Runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    eq(rt.outbox.pending(), 0)
    return rt


async def test_first_boot_fits():
    store.write_json("/config.json", mptest.fleet({
        "role": "smart_bin", "board": "virtual",
        "enroll_token": "et_sbheap%d" % time.ticks_us(), "power": "battery",
        "wifi": {"ssid": "lab", "password": "pw"}}))
    store.write_json("/board.json", BOARD)
    await _wake("none", 600)
    mptest.heap_report("first boot")


async def test_quiet_sample_wake_fits():
    _due()
    rt = await _wake("timer", 602)
    ok(rt.quiet, "no network on a sample without news")
    mptest.heap_report("quiet sample")


async def test_reporting_sample_wake_fits():
    _due()
    rt = await _wake("timer", 450)
    ok(not rt.quiet)
    mptest.heap_report("fill report")


mptest.main(globals())
