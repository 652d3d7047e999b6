# Call button role (docs/call-button.md). A press raises an alarm the moment the button
# goes down: light and tone first, then the alarm is persisted (RTC memory and
# /state/button.json, with the seq it is about to get) and put in the outbox. One ref
# per alarm, kept by its resend and its cancel. Its state follows the outbox ack and
# down.alarms: sending -> not_delivered -> received -> answered; it closes when the
# fleet says resolved/cancelled (or no longer lists it at a later wake). A press while
# it is open re-signals it; a long press that began while it was open cancels it. The
# device stays awake (rt.stay_awake: long-poll on, reboots deferred) while the alarm is
# being delivered (2 min) or answered (answer_wait_s), then sleeps and wakes again
# after 30 s, 1, 2, 4, 8, then every 10 min until it is delivered and answered.
# Heartbeat every heartbeat_min; battery_low once at low_battery_days of reserve.
import time
import asyncio
import log
import store
from micropython import const

_F = const("/state/button.json")
# Timings in ms, a list so tests can shorten them:
#   0 not acked this long after the press -> "not delivered"
#   1 awake this long to deliver a new alarm, then sleep with retry wakes
#   2 a press before the fleet answered re-signals the stored state after this long
#   3 first retry wake (doubles)    4 longest retry wake
#   5 the "not delivered" tone repeats (after a press)
#   6 after a cancel, a press raises an alarm only once it ends short
#   7 a heartbeat waits this long for Wi-Fi (to carry rssi)
T = [8000, 120000, 10000, 30000, 600000, 30000, 10000, 5000]
_UNSENT = const(("sending", "not_delivered"))
_RAISED = const(0)      # what the press now down did: raised an alarm,
_OPEN = const(1)        # found one open (a long press cancels it),
_DEFER = const(2)       # came just after a cancel (raises only if it ends short)

rt = None
_s = {}          # persisted: {"a": {"ref", "seq", "st"} or None, "bl": 1 once reported}
_busy = True
_t0 = 0          # ticks at the start of this wake
_ta = None       # ticks the open alarm entered its state in this wake (None: earlier)
_tr = None       # ticks it was raised, if in this wake
_old = False     # it was delivered before this wake
_sig = None      # state signal to show once the LED and buzzer are free
_tt = None       # ticks of the last "not delivered" tone (None: no tone in this wake)
_dk = _RAISED    # what the press now down did (above)
_again = False   # pressed with an alarm open before the fleet said how it stands
_grace = None    # ticks of the last cancel
_o = False       # LED/buzzer used in this wake
_hbp = False     # a heartbeat is due (waiting for Wi-Fi)


def _ms(t):
    return time.ticks_diff(time.ticks_ms(), t)


def _save():
    r = rt.rtc
    r.data["cb"] = _s
    r.save()
    if _s.get("a") or _s.get("bl"):
        store.write_json(_F, _s)
    else:
        store.remove(_F)


def setup(r):
    global rt, _s, _t0, _old
    rt = r
    _t0 = time.ticks_ms()
    s = rt.rtc.get("cb")
    _s = s if isinstance(s, dict) else store.read_json(_F, None) or {}
    if rt.due("heartbeat", rt.cfg["heartbeat_min"] * 60, False):
        import energy                       # noqa: F401  now, while the heap is compact (_hb)
    a = _s.get("a")
    if not a:
        return
    rt.stay_awake("alarm")                  # before the hello: a reboot waits
    st = a["st"]
    _old = st not in _UNSENT
    if not _old:
        a["st"] = "not_delivered"
    rt.rtc.set("cbn", rt.rtc.get("cbn", 0) + 1 if rt.wake_reason == "timer" else 0)
    log.i("button", "open ref=%s state=%s" % (a["ref"], a["st"]))
    if a["seq"] >= rt.outbox.next_seq:      # power cut before the event was stored
        _raise(a)


def _out(pat=None, bg=0, tune=None):
    """LED pattern and tune (same name unless given), LED background (0: keep)."""
    global _o
    _o = True
    led, buz = rt.led, rt.buzzer
    if led is not None:
        if bg != 0:
            led.background(bg)
            if not led.busy():
                led.show(bg or "off")
        if pat:
            led.show(pat)
    if buz is not None and (tune or pat):
        buz.play(tune or pat)


def _free():
    """No finite LED pattern or tune is playing."""
    if not _o:
        return True
    led, buz = rt.led, rt.buzzer
    return not ((led is not None and led.busy()) or (buz is not None and buz.busy()))


def _raise(a=None):
    """A new alarm (persisted first), or the resend of a restored one."""
    global _ta, _tr, _old, _tt, _sig
    ob = rt.outbox
    if a is None:
        import os
        import binascii
        a = {"ref": "%x-%d-%s" % (ob.stream, ob.next_seq, binascii.hexlify(os.urandom(2)).decode()),
             "seq": ob.next_seq, "st": "sending"}
        _s["a"] = a
        _save()                             # a power cut cannot lose it from here on
        _ta = _tr = time.ticks_ms()
        _old, _tt, _sig = False, None, None
        rt.stay_awake("alarm")
        rt.rtc.set("cbn", 0)
        _out(bg="sending")
    d = {"ref": a["ref"], "kind": "call"}
    v = rt.battery.read() if rt.battery is not None else None
    if v is not None:
        d["battery_v"] = v
    a["seq"] = rt.emit("alarm", d)
    log.i("button", "alarm ref=%s seq=%d%s" % (a["ref"], a["seq"], "" if _tr is not None else " resent"))


def _set(st):
    """The open alarm enters state st: persist, log, signal."""
    global _ta, _sig
    a = _s["a"]
    a["st"] = st
    _ta = time.ticks_ms()
    rt.rtc.set("cbn", 0)
    rt.stay_awake("alarm")
    if st == "not_delivered":
        log.w("button", "not delivered ref=%s retry" % a["ref"])
    else:
        _save()
        log.i("button", "%s ref=%s" % (st, a["ref"]))
    _sig = st


def _close(s):
    global _again, _sig
    ref = _s["a"]["ref"]
    _s["a"] = _sig = None
    _save()
    rt.due("alarm", 0)                      # when the last alarm closed (may_update)
    rt.allow_sleep("alarm")
    log.i("button", "closed ref=%s state=%s" % (ref, s))
    if _o:
        _out(bg=None)
    if _again and s != "cancel":
        _raise()                            # that press was meant for a new alarm
    _again = False


def _on(k):
    global _dk, _again, _sig, _grace, _tt
    a = _s.get("a")
    if k == "down":
        _out("press")                       # before anything else
        if a is not None:
            _dk = _OPEN
            log.i("button", "press ref=%s state=%s" % (a["ref"], a["st"]))
            if _tt is None:                 # "not delivered" tones from now on
                _tt = time.ticks_ms()           # (0 is a valid tick: test None, not truth)
            if rt.link.hello_ok:
                _sig = a["st"]              # re-signal where it stands
            else:
                _again = True               # once the fleet said (_track)
        elif _grace is not None and _ms(_grace) < T[6]:
            _dk = _DEFER                    # just cancelled: raise only if it ends short
        else:
            _dk = _RAISED
            _raise()
    elif k == "long":
        if _dk == _OPEN and a is not None:
            seq = rt.emit("alarm_cancel", {"ref": a["ref"]})
            log.i("button", "cancel ref=%s seq=%d" % (a["ref"], seq))
            _grace = time.ticks_ms()
            _close("cancel")
            _out("cancel")
        elif _dk == _DEFER:
            log.i("button", "nothing to cancel")
            _out("nothing")
        elif a is not None:
            log.i("button", "long press ignored ref=%s (this press raised it)" % a["ref"])
    elif k == "press" and _dk == _DEFER:
        _dk = _RAISED
        _raise()


def _track():
    """Follow the open alarm (outbox ack, down.alarms) and show its signals."""
    global _again, _tt, _sig
    a = _s.get("a")
    if a is None:
        return
    link = rt.link
    fs = link.alarms.get(a["ref"]) if link.hello_ok else None
    st = a["st"]
    if fs in ("resolved", "cancelled") or (fs is None and _old and link.hello_ok):
        _close(fs or "gone")
        return
    if _again and (link.hello_ok or _ms(_t0) > T[2]):
        _again, _sig = False, st            # still open: re-signal the press now
    if st in _UNSENT:
        if rt.outbox.ack >= a["seq"] or fs is not None:
            _set("received")
        elif st == "sending" and _ms(_ta) >= T[0]:
            _set("not_delivered")
        elif st == "not_delivered" and _tt is not None and _ms(_tt) >= T[5]:
            _sig = st
    elif st == "received" and fs == "acknowledged" and _sig is None:
        _set("answered")
    s = _sig
    if s is None or not _free():
        return
    _sig = None
    if s not in _UNSENT:
        _out(s, None)                       # received / answered
    elif s == "not_delivered" and (_tt is not None or _tr is not None):
        _tt = time.ticks_ms()
        _out(bg=s, tune=s)
    else:
        _out(bg=s)


def _hb():
    """The heartbeat when due (waits up to T[7] for Wi-Fi, to carry rssi)."""
    global _hbp
    p = rt.cfg["heartbeat_min"] * 60
    w = rt.wifi
    _hbp = rt.due("heartbeat", p, False)
    if _hbp and (w is None or w.isconnected() or _ms(_t0) >= T[7]):
        _hbp = False
        rt.due("heartbeat", p)
        import sys
        import energy                       # once a day: loaded, then dropped
        if energy.heartbeat(rt, _s):
            _save()
        sys.modules.pop("energy", None)


async def run():
    global _busy
    btn = rt.button
    k = await btn.get(0) if btn is not None and btn.pending() else None   # the wake press
    while True:
        _busy = True
        if k is not None:
            _on(k[0])
        elif _s.get("a") is not None and _s["a"]["st"] == "not_delivered" and _sig is None \
                and not _o:
            _out(bg="not_delivered")        # a retry wake: still not through
        _track()
        _hb()
        _busy = False
        t = 100 if _s.get("a") or _sig or _hbp or _dk == _DEFER else 1000
        k = await btn.get(t) if btn is not None else await asyncio.sleep_ms(t)


def should_sleep():
    if _busy or _hbp or not rt.battery_powered:
        return False
    _track()                                # what the link learnt since the last tick
    a = _s.get("a")
    if a is None:
        return _sig is None
    st = a["st"]
    if _sig is not None or (_tr is not None and st in _UNSENT and _ms(_tr) < T[1]) or (
            st == "received" and _ta is not None and _ms(_ta) < rt.cfg["answer_wait_s"] * 1000):
        return False                        # delivering, or waiting for the answer
    link, b, w = rt.link, rt.button, rt.wifi
    if link.settled():
        if not _free() or (b is not None and (b.pressed or b.pending())):
            return False
    elif not link.failing_ms() and (w is None or w.isconnected()) and _ms(_t0) < T[1]:
        rt.stay_awake("alarm")
        return False                        # talking to the fleet: reboots wait
    if "alarm" in rt.tokens:
        # settled: the runtime sleeps in this same step, so no reboot slips in between
        rt.allow_sleep("alarm")
        log.i("button", "sleep ref=%s state=%s wake in %d s" % (a["ref"], st, next_wake_ms() // 1000))
    return True


def next_wake_ms():
    ms = rt.ms_until("heartbeat", rt.cfg["heartbeat_min"] * 60)
    a = _s.get("a")
    if a is not None and a["st"] != "answered":
        ms = min(ms, T[3] << min(rt.rtc.get("cbn", 0), 5), T[4])
    return max(1000, ms)


def may_update():
    """OTA asks before it installs (docs/ota.md): never with an alarm open or in the 10 minutes
    after one, never on a low battery."""
    if _s.get("a") or "alarm" in rt.tokens:
        return "alarm_open"
    if rt.ms_until("alarm", 600):
        return "alarm_recent"
    if _s.get("bl"):
        return "low_battery"
    return None


def self_test():
    a = _s.get("a")
    return True, "alarm=%s" % (a["st"] if a else "none")
