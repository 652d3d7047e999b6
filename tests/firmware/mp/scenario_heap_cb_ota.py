# A call button's whole app-bundle update in the call button's heap gate (docs/ota.md "What is
# left", docs/performance.md "OTA"): run by tests/firmware/test_call_button_ota_heap.py, every
# module compiled by mpy-cross, over HTTPS, the FakeFleet offering a signed release (down.update)
# and serving its envelope and bundle at /_fake/files/. Three boots on the same files and RTC
# memory, each a process of its own as a board's reset is:
#   1. the offer wake: a first boot (enroll, hello, heartbeat) whose hello brings the offer; the
#      role's may_update() and the battery let it go: the offer stored, a reboot into an update boot
#   2. the first update boot (otaboot.py): no role, no long-poll; hello, the signed envelope
#      fetched and kept on flash, a reboot to verify it first
#   3. the second update boot: the manifest verified before Wi-Fi, TLS and the link start; hello,
#      the bundle downloaded, hashed and installed into slot b, the switch, a reboot
#   4. the new version's first boot: the health gate (otagate: pending, hello, self-test,
#      succeeded), then sleep
import gc
import os
import json
import time
import binascii
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import machine  # noqa: E402

BOARD = {"name": "virtual", "pins": {"button": 27, "led": 26, "buzzer": 25, "battery_adc": 34},
         "button_active_low": True, "battery_divider": 2.0, "wake": "ext0"}


def _boot(rc, wake):
    st = store.read_json("/state/boot.json", None) or {"slot": "a", "version": "0.1.0"}
    st.update(pending=True, reset_cause=rc, wake_reason=wake)
    store.write_json("/state/boot.json", st)


def _runtime():
    # as supervisor.main() starts one (its setup-mode check aside)
    import supervisor
    ub = store.read_json("/state/otaboot.json", None)
    return supervisor.Runtime(None, ub if isinstance(ub, dict) else None)


async def test_offer_wake_fits():
    with open(os.getenv("OTA_CASE")) as f:
        c = json.load(f)
    store.write_json("/config.json", mptest.fleet({
        "role": "call_button", "board": "virtual",
        "enroll_token": "et_cbota%d" % time.ticks_us(), "power": "battery",
        "wifi": {"ssid": "lab", "password": "pw"}}))
    store.write_json("/board.json", BOARD)
    store.makedirs("/keys")
    store.write_atomic("/keys/%s.rsa" % c["kid"], binascii.unhexlify(c["n"]))
    del c, f
    store.write_json("/state/boot.json", {"slot": "a", "good": "a", "version": "0.1.0"})
    _boot("power_on", "none")
    machine.FAKE.adc_uv[34] = 1600000       # a fresh cell: the battery guard lets it go
    gc.collect()
    rt = _runtime()
    d = await rt.run()
    eq(d, ("reboot", "update boot"))
    ub = store.read_json("/state/otaboot.json")
    eq((ub["offer"]["version"], ub["btn"]), ("9.0.0", True))
    mptest.heap_report("offer wake")


async def test_envelope_boot_fits():
    _boot("hard", "none")
    gc.collect()
    rt = _runtime()
    ok(rt.ub is not None and "m" not in rt.ub, "an update boot, nothing verified yet")
    d = await rt.run()
    eq(d, ("reboot", "update boot: verify first"))
    ok(rt.role is None, "no role in an update boot")
    ub = store.read_json("/state/otaboot.json")
    eq((ub["offer"]["version"], ub["btn"], ub["env"]), ("9.0.0", True, 1))
    ok(store.exists("/state/otaenv.json"), "the envelope kept")
    ok(not store.exists("/app_b/app.json"), "nothing installed")
    mptest.heap_report("envelope boot")


async def test_update_boot_fits():
    _boot("hard", "none")
    gc.collect()
    rt = _runtime()
    ok(rt.ub is not None and rt.ub["m"]["version"] == "9.0.0", "an update boot, its manifest verified first")
    ok(not store.exists("/state/otaenv.json"))
    d = await rt.run()
    eq(d[0], "reboot")
    ok(d[1].startswith("ota "), d)
    ok(rt.role is None, "no role in an update boot")
    eq(store.read_json("/app_b/app.json")["version"], "9.0.0")
    b = store.read_json("/state/boot.json")
    eq((b["slot"], b.get("trial"), b.get("ota")), ("b", True, 1))
    eq(store.read_json("/state/otaboot.json"), {"end": 1})
    mptest.heap_report("update boot")


async def test_gate_boot_fits():
    _boot("hard", "none")
    st = store.read_json("/state/boot.json")
    st["version"] = "9.0.0"                 # boot.py reads it from slot b's app.json
    store.write_json("/state/boot.json", st)
    gc.collect()
    rt = _runtime()
    ok(rt.ub is None and rt.ota_boot, "the new version's first boot, not an update boot")
    d = await rt.run()
    eq(d[0], "sleep")
    eq(store.read_json("/state/otadone.json")["res"], "succeeded")
    eq(rt.outbox.pending(), 0)
    mptest.heap_report("gate boot")


mptest.main(globals())
