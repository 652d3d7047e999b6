# Commands from the fleet (down.commands): reboot, self_test, identify. Each id runs
# once: the ids are kept in /state/cmds.json, so a reboot does not repeat after the
# reboot although the fleet lists the command until its cmd_result arrives. A reboot
# waits while a role holds the device awake (a call button with an open alarm).
# Imported when the fleet sends commands, not kept loaded otherwise.
import gc
import log
import store

CMDS = "/state/cmds.json"
_MIN_FREE = 4096        # self_test: free heap after a collection


def _done():
    d = store.read_json(CMDS, [])
    return d if isinstance(d, list) else []


def start(rt, cmd):
    cid = cmd.get("id")
    if not isinstance(cid, int) or cid in _done():
        return
    if cmd.get("name") == "reboot" and rt.tokens:
        log.i("supervisor", "reboot deferred: awake for %s" % ",".join(rt.tokens))
        return                              # the fleet repeats it until a cmd_result
    rt._cmds.add(cid)

    async def go():
        await run(rt, cmd)
    rt.spawn("cmd", go, False)


def self_test(rt):
    parts, ok = [], True
    gc.collect()
    heap = gc.mem_free()
    parts.append("heap=%d" % heap)
    # room for a TLS connection and its request: ~4 KB live beyond a wake at rest (docs/firmware.md)
    ok = ok and heap >= _MIN_FREE
    ob = rt.outbox
    parts.append("outbox=%d/%dB" % (ob.pending(), ob.used()))
    if rt.battery is not None:
        v = rt.battery.read()
        parts.append("battery=%sV" % v)
        ok = ok and v is not None
    f = getattr(rt.role, "self_test", None)
    if f is not None:
        rok, rdetail = f()
        ok = ok and rok
        parts.append("role:" + str(rdetail))
    return ok, " ".join(parts)


async def run(rt, cmd):
    cid, name = cmd.get("id"), cmd.get("name")
    log.i("supervisor", "command %d %s" % (cid, name))
    ok, detail = True, ""
    try:
        if name == "identify":
            if rt.led:
                rt.led.show("identify")
            if rt.buzzer:
                rt.buzzer.play("identify")
            detail = "identify pattern played"
        elif name == "self_test":
            ok, detail = self_test(rt)
        elif name == "reboot":
            detail = "rebooting"
        else:
            ok, detail = False, "unknown command " + str(name)
        store.write_json(CMDS, (_done() + [cid])[-16:])
        seq = rt.emit("cmd_result", {"id": cid, "ok": ok, "detail": detail[:200]})
        if name == "reboot" and seq is not None:
            await rt.link.wait_acked(seq, 10000)
            rt.finish("reboot", "command %d" % cid)
    finally:
        rt._cmds.discard(cid)
