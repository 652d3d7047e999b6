# The hello (protocol v1 POST /api/v1/device/hello): once per wake, and again when a new
# error is to be reported. Link.hello() imports this module and drops it again, so its
# code does not stay in the heap; the runtime's hello_body/_on_hello hooks use it meanwhile.
import os
import sys
import gc
import json
import devproto
import log
import store


async def hello(link):
    body = link.hello_fn() if link.hello_fn else {}
    n = len(body.get("errors", ()))
    body = json.dumps(body, separators=(",", ":"))     # the dict is not kept during the request
    obj = await link._signed("POST", devproto.PATH_HELLO, body)
    ack = obj.get("ack")
    if isinstance(ack, int) and ack > link.ob.ack:
        link.ob.ack_to(ack)
    link.hello_ok = True
    link.need_hello = False
    link.down(obj.get("down"))
    log.i("link", "hello ok ack=%s cursor=%d cv=%d seq=%d" % (
        ack, link.cursor, link.cfg.cv, link.ob.next_seq - 1))
    if link.on_hello:
        link.on_hello(n)


def body(rt):
    """The runtime's hello body: exactly the fields docs/protocol.md lists."""
    try:
        fw = os.uname().release         # the running image's version (after a firmware OTA too)
    except AttributeError:              # (the unix port has no uname)
        v = sys.implementation.version
        fw = "%d.%d.%d" % (v[0], v[1], v[2])
    b = {"fw": fw, "app": rt.app_version,
         "slot": rt.slot, "board": rt.board_name, "role": rt.config.get("role", ""),
         "reset_cause": rt.reset_cause, "wake_reason": rt.wake_reason,
         "heap_free": gc.mem_free(), "cv": rt.config.cv, "stream": rt.outbox.stream,
         "seq": rt.outbox.next_seq - 1, "errors": rt.errors[:devproto.MAX_ERRORS]}
    rssi = rt.wifi.rssi() if rt.wifi is not None else None
    if isinstance(rssi, int):
        b["rssi"] = rssi
    return b


def done(rt, n):
    """The hello succeeded carrying the oldest n errors: forget them; the slot is healthy."""
    if n:
        rt.errors = rt.errors[n:]
        if rt.errors:
            store.write_json("/state/errors.json", rt.errors)
        else:
            store.remove("/state/errors.json")
    if not rt.healthy and not rt.ota_boot:      # after an update: otagate decides
        import bootstate
        bootstate.mark("healthy")
        rt.healthy = True
        log.i("supervisor", "healthy: slot %s confirmed" % rt.slot)
