# The first boot after an OTA switch: the health gate (docs/ota.md "Health gate"). The new
# version must reach the fleet (a signed hello and its ack) and pass the role's self-test within
# the window (offer "gate_s", default 300 s); only then is it confirmed: the app slot marked
# good, the firmware image marked valid (mark_app_valid_cancel_rollback), the security version
# raised. Otherwise the board rolls back by itself (the app slot back to the good one; an image
# not marked valid is abandoned by the bootloader at the reset) and says why. It also reports a
# rollback boot.py or the bootloader did before the new version could run (a crash at boot).
# startup.py starts it when /state/boot.json has "ota"; it runs as the task "otagate".
import sys
import time
import asyncio
import log
import store
import otastate
from micropython import const

_WAIT_MS = const(500)


def start(rt):
    rt.stay_awake("ota")
    rt.spawn("otagate", lambda: run(rt), False)


def _landed(rt, st):
    if st.get("kind") == "firmware":
        import otafw
        return otafw.label(otafw.running()) == st.get("part")
    return rt.slot == st.get("slot")


def _boot():
    import bootstate
    return bootstate.load()


def _end(rt, boot=None):
    boot = boot or _boot()
    if "ota" in boot.st:
        del boot.st["ota"]
        boot._save()
    rt.ota_boot = False
    rt.allow_sleep("ota")


async def run(rt):
    st = store.read_json(otastate.STATE, None)
    if not isinstance(st, dict) or st.get("step") != "sw":
        _end(rt)
        return
    rid = st["id"]
    if not _landed(rt, st):
        # boot.py fell back after failed boots, or the bootloader abandoned the image
        note = _boot().get("note") or "the new version did not start"
        log.w("ota", "%s rolled back before it ran: %s" % (rid, note))
        otastate.emit(rt, rid, "rolled_back", "crash", None, st.get("from"))
        otastate.done(rt, rid, "rolled_back")
        _end(rt)
        return
    if not st.get("pend"):
        st["pend"] = 1
        store.write_json(otastate.STATE, st)
        otastate.emit(rt, rid, "pending", None, None, st["v"])
    t0 = time.ticks_ms()
    window = st.get("gate", 300) * 1000
    reason = "no_fleet"
    while time.ticks_diff(time.ticks_ms(), t0) < window:
        if rt.link.hello_ok and rt.role is not None:
            import commands
            ok, detail = commands.self_test(rt)
            del commands
            if not rt._cmds:
                sys.modules.pop("commands", None)   # (loaded again by a command that comes)
            reason = None if ok else "self_test"
            log.i("ota", "%s self-test %s: %s" % (rid, "passed" if ok else "FAILED", detail))
            break
        await asyncio.sleep_ms(_WAIT_MS)
    if reason is None:
        if st.get("kind") == "firmware":
            import otafw
            otafw.confirm()
        else:
            boot = _boot()
            boot.mark_healthy()
            rt.healthy = True
        import otatrust
        otatrust.Trust().raise_sv(st.get("sv", 0))
        del otatrust
        sys.modules.pop("otatrust", None)
        log.i("ota", "%s confirmed: %s" % (rid, st["v"]))
        otastate.emit(rt, rid, "succeeded", None, None, st["v"])
        otastate.done(rt, rid, "succeeded")
        _end(rt)
        return
    log.w("ota", "%s failed its health gate (%s): rolling back" % (rid, reason))
    if st.get("kind") != "firmware":
        boot = _boot()
        b = boot.st
        b["bad"] = b["slot"]
        b["slot"] = b.get("good") or ("a" if b["slot"] == "b" else "b")
        b["trial"] = False
        b["tries"] = 0
        b["pending"] = False
        b["note"] = "ota %s rolled back: %s" % (rid, reason)
    seq = otastate.emit(rt, rid, "rolled_back", reason, None, st.get("from"))
    otastate.done(rt, rid, "rolled_back")
    _end(rt, boot if st.get("kind") != "firmware" else None)    # (saves boot.json)
    if seq is not None:
        await rt.link.wait_acked(seq, 10000)
    rt.finish("reboot", "ota rollback")
