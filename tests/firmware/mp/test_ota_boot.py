# The update boot (firmware/app/otaboot.py, docs/ota.md "On the board"): the whole runtime of a
# call button on fake hardware against the FakeFleet, which offers and serves a signed release
# (OTA_CASE). A normal wake takes the offer into an update boot; the update boot runs without
# the role; a press ends it and is the next boot's press; an update boot that did not install
# keeps the next one away for a while. MicroPython.
import os
import json
import time
import asyncio
import binascii
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import machine  # noqa: E402
from fakectl import URL, fleet  # noqa: E402

with open(os.getenv("OTA_CASE")) as _f:
    C = json.load(_f)
BTN = 27
BOARD = {"name": "virtual", "pins": {"button": BTN, "led": 26, "buzzer": 25, "battery_adc": 34},
         "button_active_low": True, "battery_divider": 2.0, "wake": "ext0"}


def _flash(rc="power_on", wake="none"):
    store.write_json("/config.json", {"role": "call_button", "board": "virtual", "fleet_url": URL,
                                      "enroll_token": "et_ob%d" % time.ticks_us(), "power": "battery"})
    store.write_json("/board.json", BOARD)
    store.makedirs("/keys")
    store.write_atomic("/keys/%s.rsa" % C["kid"], binascii.unhexlify(C["n"]))
    store.makedirs("/app_a")
    store.write_json("/app_a/app.json", {"version": "1.0.0"})
    _boot(rc, wake)
    machine.FAKE.adc_uv[34] = 1600000
    machine.FAKE.levels[BTN] = 1


def _boot(rc, wake):
    st = store.read_json("/state/boot.json", None) or {"slot": "a", "good": "a", "version": "1.0.0"}
    st.update(pending=True, reset_cause=rc, wake_reason=wake)
    store.write_json("/state/boot.json", st)


def _offer(**kw):
    o = dict(C["good"])
    o["id"] = "app-9.0.0-%d" % time.ticks_us()
    o["gate_s"] = 2
    o.update(kw)
    return o


async def _envelope_boot():
    """The first update boot for an offer: the hello, the signed envelope fetched and kept, a
    reboot into the update boot that verifies it first thing."""
    _boot("hard", "none")
    rt = _runtime()
    ok(rt.ub is not None and "m" not in rt.ub and not store.exists("/state/otaboot.json"), "read once")
    d = await rt.run()
    eq(d, ("reboot", "update boot: verify first"))
    ok(rt.role is None, "no role")
    ub = store.read_json("/state/otaboot.json")
    eq(ub.get("env"), 1)
    ok(store.exists("/state/otaenv.json"), "the envelope kept")
    return ub


def _runtime():
    """A runtime as supervisor.main() starts one, and a fresh call button role module."""
    import sys
    sys.modules.pop("roles.call_button", None)
    import roles
    if hasattr(roles, "call_button"):
        delattr(roles, "call_button")
    import supervisor
    ub = store.read_json("/state/otaboot.json", None)
    return supervisor.Runtime(None, ub if isinstance(ub, dict) else None)


async def test_a_normal_wake_takes_the_offer_into_an_update_boot_which_runs_without_the_role():
    _flash()
    offer = _offer()
    await fleet("/_fake/files", {"offer": offer})
    try:
        rt = _runtime()
        eq(rt.ub, None)
        d = await rt.run()
    finally:
        await fleet("/_fake/files", {"offer": None})
    eq(d, ("reboot", "update boot"))
    ub = store.read_json("/state/otaboot.json")
    eq((ub["offer"]["id"], ub["btn"]), (offer["id"], True))
    import supervisor
    machine.FAKE.levels[BTN] = 0            # held at the reset: no setup-mode hold check
    eq(supervisor._setup_mode({"wifi": {"ssid": "lab"}, "role": "call_button"}, ub), (None, False))   # nor a press
    machine.FAKE.levels[BTN] = 1
    # the update boot: the envelope fetched, then verified at the start of the next one
    await _envelope_boot()
    _boot("hard", "none")
    rt = _runtime()
    ok(rt.ub["m"]["version"] == "9.0.0" and not store.exists("/state/otaenv.json"), "verified first")
    d = await rt.run()
    eq(d[0], "reboot")
    ok(d[1].startswith("ota "), d)
    ok(rt.role is None and "roles.call_button" not in __import__("sys").modules, "no role")
    eq(store.read_json("/app_b/app.json")["version"], "9.0.0")
    b = store.read_json("/state/boot.json")
    eq((b["slot"], b.get("trial"), b.get("ota"), b.get("good")), ("b", True, 1, "a"))
    eq(store.read_json("/state/otaboot.json"), {"end": 1})
    st = await fleet("/_fake/state?device_id=" + rt.config.get("device_id"))
    stages = [e["data"]["stage"] for e in st["events"] if e["type"] == "ota"]
    ok(stages[0] == "downloading" and stages[-2:] == ["verifying", "installed"], stages)
    # the next boot is the new version's (its health gate), not an update boot
    _boot("hard", "none")
    rt = _runtime()
    ok(rt.ub is None and rt.ota_boot and rt.wake_reason == "none", "the gate boot")
    ok(not store.exists("/state/otaboot.json"))


async def test_a_press_ends_the_update_boot_and_the_next_boot_raises_the_alarm():
    _flash()
    store.write_json("/state/otaboot.json", {"offer": _offer(), "btn": True})
    await _envelope_boot()
    _boot("hard", "none")
    await fleet("/_fake/files", {"cut": {"good.bin": 20000}})      # the download waits 2 s to retry

    async def press():
        await asyncio.sleep_ms(150)
        machine.FAKE.set_level(BTN, 0)
        await asyncio.sleep_ms(120)
        machine.FAKE.set_level(BTN, 1)
    asyncio.create_task(press())
    rt = _runtime()
    t0 = time.ticks_ms()
    d = await rt.run()
    eq(d, ("reboot", "press in the update boot"))
    ok(time.ticks_diff(time.ticks_ms(), t0) < 1000, "at once")
    eq(store.read_json("/state/otaboot.json"), {"press": 1})
    ok(not store.exists("/app_b/app.json"), "not installed")
    ok(store.exists("/ota.bin") and store.exists("/state/ota.json"), "the download resumes later")
    # the next boot: a pin wake, the press counted by the role as the press that woke it
    _boot("hard", "none")
    rt = _runtime()
    eq((rt.wake_reason, rt.woke_by_pin, rt.ub), ("pin", True, None))
    ok(not store.exists("/state/otaboot.json"))

    async def alarm():
        t = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t) < 5000:
            r = rt.role
            if r is not None and r._state.get("a") and rt.outbox.pending() == 0:
                break
            await asyncio.sleep_ms(20)
        rt.finish("test")
    asyncio.create_task(alarm())
    d = await rt.run()
    eq(d, ("test", None))
    ok(rt.role._state.get("a"), "an alarm is open")
    st = await fleet("/_fake/state?device_id=" + rt.config.get("device_id"))
    eq([e["type"] for e in st["events"]].count("alarm"), 1)
    eq(st["hellos"][-1]["wake_reason"], "pin")


async def test_an_update_boot_that_did_not_install_keeps_the_next_one_away():
    _flash()
    store.write_json("/state/otaboot.json", {"offer": _offer(url=C["base"] + "tampered.bin"), "btn": True})
    await _envelope_boot()
    _boot("hard", "none")
    rt = _runtime()
    d = await rt.run()
    eq(d, ("reboot", "update boot over"))
    eq(store.read_json("/state/otaboot.json"), {"end": 1})
    ok(rt.ms_until("otaboot", 600) > 590000, "the next update boot waits")
    eq(rt.outbox.pending(), 0)          # failed:hash_mismatch sent before the reboot
    st = await fleet("/_fake/state?device_id=" + rt.config.get("device_id"))
    eq([(e["data"]["stage"], e["data"].get("reason")) for e in st["events"] if e["type"] == "ota"][-1],
       ("failed", "hash_mismatch"))



async def test_an_envelope_changed_on_flash_is_refused_by_the_early_verify_and_nothing_is_installed():
    _flash()
    store.write_json("/state/otaboot.json", {"offer": _offer(), "btn": True})
    await _envelope_boot()
    with open(store.path("/state/otaenv.json")) as f:
        env = json.load(f)
    env["manifest"] += " "              # one byte more, the same manifest: not what was signed
    store.write_json("/state/otaenv.json", env)
    _boot("hard", "none")
    rt = _runtime()
    eq((rt.ub.get("refused"), rt.ub.get("m")), ("bad_signature", None))
    d = await rt.run()
    eq(d, ("reboot", "update boot over"))
    ok(not store.exists("/app_b/app.json") and not store.exists("/ota.bin"), "nothing downloaded or installed")
    eq(store.read_json("/state/boot.json")["slot"], "a")
    eq(rt.outbox.pending(), 0)
    st = await fleet("/_fake/state?device_id=" + rt.config.get("device_id"))
    eq([(e["data"]["stage"], e["data"].get("reason")) for e in st["events"] if e["type"] == "ota"],
       [("failed", "bad_signature")])


mptest.main(globals())
