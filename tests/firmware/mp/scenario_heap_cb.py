# The call button scenario in the gate's heap (like scenario_heap.py for the runtime): a
# first boot (enroll, hello, heartbeat, sleep), then a wake by a press: alarm -> acked
# -> "received" -> a caregiver acknowledges -> "answered" -> sleep. Run by
# tests/firmware/test_call_button_heap.py with every module compiled by mpy-cross and
# HEAP_LIMIT = the gate's budget (72 KB as ROMFS) + what this harness and the FAKE hardware modules take. The
# caregiver is the FakeFleet's auto_ack_ms (set by the CPython test), so the harness
# sends no request of its own during the wake.
import gc
import os
import time
import asyncio
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import machine  # noqa: E402

BOARD = {"name": "virtual", "pins": {"button": 27, "led": 26, "buzzer": 25, "battery_adc": 34},
         "button_active_low": True, "battery_divider": 2.0, "wake": "ext0"}


def _boot(wake):
    store.write_json("/state/boot.json", {"slot": "a", "tries": 0, "pending": True,
                                          "reset_cause": "power_on" if wake == "none" else "deepsleep",
                                          "wake_reason": wake, "version": "0.1.0"})


async def test_first_boot_fits():
    store.write_json("/config.json", mptest.fleet({
        "role": "call_button", "board": "virtual",
        "enroll_token": "et_cbheap%d" % time.ticks_us(), "power": "battery",
        "wifi": {"ssid": "lab", "password": "pw"}, "role_module": os.getenv("ROLE") or "call_button"}))
    store.write_json("/board.json", BOARD)
    _boot("none")
    machine.FAKE.adc_uv[34] = 1500000
    gc.collect()
    import supervisor
    rt = supervisor.Runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    eq(rt.outbox.pending(), 0)
    mptest.heap_report("first boot")


async def test_press_wake_fits():
    ok(store.read_json("/config.json").get("device_id"), "enrolled by the first boot")
    _boot("pin")
    machine.FAKE.levels[27] = 0             # the press that woke it

    async def release():
        await asyncio.sleep_ms(200)
        machine.FAKE.set_level(27, 1)
    asyncio.create_task(release())
    gc.collect()
    import supervisor
    rt = supervisor.Runtime()
    d = await rt.run()
    if os.getenv("ROLE"):                   # a comparison with another role
        mptest.heap_report("press wake")
        return
    eq(d[0], "sleep")
    a = rt.role._state["a"]
    eq(a["st"], "answered")
    eq(rt.outbox.pending(), 0)
    mptest.heap_report("press wake")


mptest.main(globals())
