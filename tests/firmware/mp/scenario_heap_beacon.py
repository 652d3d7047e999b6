# The facility beacon in the firmware heap budget (like scenario_heap_cb.py for the call button).
# Manhole cover (battery): a first boot (enroll, hello, down.beacon with advertising on, the
# installed angle recorded, heartbeat, sleep), then a wake by the accelerometer's interrupt with
# the cover tilted 30 degrees (cover_open sent and acked, the motion interrupt armed again,
# sleep) - advertising Eddystone-URL and -UID all along. Streetlight (mains, a board of its own):
# boot, enroll, the fleet's time and schedule, the lamp dark while it should be lit: lamp_fault
# after the debounce, acked. Run by tests/firmware/test_beacon_heap.py through heapgate.run_scenario
# (every module compiled by mpy-cross, HEAP_LIMIT = the heap + what this harness and the FAKE
# hardware modules take); the FakeFleet sends the down.beacon settings (the CPython test sets
# them). Stricter than a scenario that only has to end well: an error recorded during the wake
# (a task restarted after a MemoryError) fails it.
import gc
import sys
import time
import asyncio
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import machine  # noqa: E402

COVER = {"name": "virtual", "pins": {"button": 27, "i2c_scl": 22, "i2c_sda": 21, "battery_adc": 34},
         "button_active_low": False, "battery_divider": 2.0, "wake": "ext0", "accel": "mpu6050",
         "accel_addr": 104}
LIGHT = {"name": "virtual", "pins": {"light_adc": 35}, "light_full_v": 2.0}


class FakeBLE:
    """The radio boundary (as in test_beacon.py): records what would be advertised."""
    adverts = []

    def active(self, on=None):
        return True

    def gap_advertise(self, interval_us, adv_data=None, connectable=True):
        FakeBLE.adverts.append((interval_us, adv_data))


class _Bluetooth:
    BLE = FakeBLE


sys.modules["bluetooth"] = _Bluetooth


def _boot(wake):
    store.write_json("/state/boot.json", {"slot": "a", "tries": 0, "pending": True,
                                          "reset_cause": "power_on" if wake == "none" else "deepsleep",
                                          "wake_reason": wake, "version": "0.1.0"})


def _accel(z, y):
    """The MPU6050's registers with gravity (0, y, z) in g: WHO_AM_I, ACCEL_OUT, and INT_STATUS,
    whose read releases the latched interrupt line (the wake pin, 27) as the chip does."""
    def s16(g):
        v = int(g * 16384) & 0xFFFF
        return bytes((v >> 8, v & 0xFF))

    def int_status():
        was = machine.FAKE.levels.get(27, 0)
        machine.FAKE.set_level(27, 0)
        return b"\x40" if was else b"\x00"
    machine.FAKE.i2c[0x68] = {0x75: b"\x68", 0x3A: int_status, 0x3B: s16(0) + s16(y) + s16(z)}


def _errors(rt):
    """What the runtime records as errors during this wake (a task that crashed on a
    MemoryError and was restarted would pass the scenario otherwise): a list that fills."""
    seen = []
    record = rt.record_error

    def note(msg):
        seen.append(msg)
        record(msg)
    rt.record_error = note
    return seen


def _configure(kind, board, power):
    store.write_json("/config.json", mptest.fleet({
        "role": "beacon", "board": "virtual", "beacon": kind,
        "enroll_token": "et_bcheap%d" % time.ticks_us(), "power": power,
        "wifi": {"ssid": "lab", "password": "pw"}}))
    store.write_json("/board.json", board)


async def test_cover_first_boot_fits():
    _configure("manhole_cover", COVER, "battery")
    _boot("none")
    _accel(1.0, 0.0)                        # lying flat: the installed angle
    machine.FAKE.adc_uv[34] = 1750000
    gc.collect()
    import supervisor
    rt = supervisor.Runtime()
    errors = _errors(rt)
    d = await rt.run()
    eq(errors, [], "errors during the wake")
    eq(d[0], "sleep")
    eq(rt.outbox.pending(), 0)
    ok(rt.role.state.get("base"), "installed angle recorded")
    ok(FakeBLE.adverts and FakeBLE.adverts[-1][1], "advertising, as the fleet asked")
    mptest.heap_report("cover first boot")


async def test_cover_tilt_wake_fits():
    ok(store.read_json("/config.json").get("device_id"), "enrolled by the first boot")
    _boot("pin")
    _accel(0.866, 0.5)                      # lifted: 30 degrees
    machine.FAKE.levels[27] = 1             # the accelerometer's interrupt line, latched high
    machine.FAKE.adc_uv[34] = 1750000
    gc.collect()
    import supervisor
    rt = supervisor.Runtime()
    errors = _errors(rt)
    d = await rt.run()
    eq(errors, [], "errors during the wake")
    eq(d[0], "sleep")
    eq(rt.outbox.pending(), 0)
    eq(rt.role.state.get("open"), 1)
    ok(FakeBLE.adverts and FakeBLE.adverts[-1][1], "advertising")
    ok((0x68, 0x38, b"\x40") in machine.FAKE.i2c_writes, "motion interrupt armed before sleep")
    mptest.heap_report("cover tilt wake")


async def test_streetlight_fault_fits():
    _configure("streetlight", LIGHT, "mains")
    _boot("none")
    machine.FAKE.adc_uv[35] = 100000        # dark, while the schedule says lit
    gc.collect()
    import supervisor
    rt = supervisor.Runtime()
    errors = _errors(rt)

    async def until_reported():
        while rt.role is None or rt.role.state.get("lamp") != "lamp_fault" or rt.outbox.pending():
            await asyncio.sleep_ms(200)
        rt.finish("stop")
    asyncio.create_task(until_reported())
    d = await rt.run()
    eq(d[0], "stop")
    eq(errors, [], "errors during the run")
    ok(FakeBLE.adverts and FakeBLE.adverts[-1][1], "advertising")
    mptest.heap_report("streetlight fault")


mptest.main(globals())
