# The runtime scenario (boot -> enroll -> hello -> events acked -> sleep decision) with
# the generic role, in the gate's heap (72 KB as ROMFS: an ESP32_GENERIC's 56 KB as the
# 64-bit port needs it, docs/firmware.md "Heap").
# Run by tests/firmware/test_micropython_units.py::test_runtime_scenario_fits_72k_heap:
# everything compiled with mpy-cross first (a board runs .mpy files, not source), and
# the heap is the gate's budget plus what this harness and the FAKE machine/network/esp32 modules
# take (measured by a probe in the same conditions): on a board those are C modules
# that cost no heap. HEAP_LIMIT (env) is that total; the test checks it is in force.
import gc
import os
import time
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402


def _flash():
    store.write_json("/config.json", mptest.fleet({
        "role": "smart_bin", "role_module": "generic", "board": "virtual",
        "enroll_token": "et_heap%d" % time.ticks_us(),
        "power": "battery", "wifi": {"ssid": "lab", "password": "pw"}}))
    store.write_json("/board.json", {"name": "virtual", "pins": {"button": 27, "led": 26,
                                     "buzzer": 25, "battery_adc": 34},
                                     "button_active_low": True, "battery_divider": 2.0,
                                     "wake": "ext0"})
    store.write_json("/state/boot.json", {"slot": "a", "tries": 0, "pending": True,
                                          "reset_cause": "power_on", "wake_reason": "none",
                                          "version": "0.1.0"})


async def test_runtime_scenario_fits_in_72k_heap():
    _flash()
    gc.collect()
    import supervisor
    rt = supervisor.Runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    eq(rt.outbox.pending(), 0)
    ok(rt.link.sent >= 2)
    mptest.heap_report("first boot")


async def test_second_wake_fits_too():
    # run in a new process after the first-boot test, on the same flash and RTC memory
    ok(store.read_json("/config.json").get("device_id"), "enrolled by the first boot")
    st = store.read_json("/state/boot.json")
    st.update(pending=True, reset_cause="deepsleep", wake_reason="timer")
    store.write_json("/state/boot.json", st)
    gc.collect()
    import supervisor
    rt = supervisor.Runtime()
    n = rt.outbox.next_seq if rt.outbox else None
    d = await rt.run()
    eq(d[0], "sleep")
    eq(rt.wake_reason, "timer")
    eq(rt.outbox.pending(), 0)
    mptest.heap_report("timer wake")


mptest.main(globals())
