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

BUTTON_AT_BOOT = True       # the button is watched before the rest loads (startup.py)
_STATE_FILE = const("/state/button.json")
_RTC_RETRIES = const("cbn")     # RTC memory: retry wakes in a row (the next one waits longer)
# Timings in ms, a list so tests can shorten them, and their places in it:
TIMINGS_MS = [8000, 120000, 10000, 30000, 600000, 30000, 10000, 5000]
_UNACKED = const(0)         # not acked this long after the press -> "not delivered"
_DELIVER = const(1)         # awake this long to deliver a new alarm, then sleep with retry wakes
_RESIGNAL = const(2)        # a press before the fleet answered re-signals the stored state after this
_RETRY_FIRST = const(3)     # first retry wake (doubles)
_RETRY_MAX = const(4)       # longest retry wake
_TONE_REPEAT = const(5)     # the "not delivered" tone repeats (after a press)
_CANCEL_GRACE = const(6)    # after a cancel, a press raises an alarm only once it ends short
_HEARTBEAT_WIFI = const(7)  # a heartbeat waits this long for Wi-Fi (to carry rssi)
_UNSENT = const(("sending", "not_delivered"))
_RAISED = const(0)      # what the press now down did: raised an alarm,
_OPEN = const(1)        # found one open (a long press cancels it),
_DEFER = const(2)       # came just after a cancel (raises only if it ends short)

rt = None
# persisted (RTC memory "cb" and _STATE_FILE, docs/call-button.md): {"a": the open alarm
# {"ref", "seq", "st" (its state)} or None, "bl": 1 once battery_low was reported}
_state = {}
_busy = True
_wake_t = 0                 # ticks at the start of this wake
_state_t = None             # ticks the open alarm entered its state in this wake (None: earlier)
_raised_t = None            # ticks it was raised, if in this wake
_delivered_before = False   # it was delivered before this wake
_signal_due = None          # state signal to show once the LED and buzzer are free
_tone_t = None              # ticks of the last "not delivered" tone (None: no tone in this wake)
_press_did = _RAISED        # what the press now down did (above)
_ask_again = False          # pressed with an alarm open before the fleet said how it stands
_cancel_t = None            # ticks of the last cancel
_signalled = False          # LED/buzzer used in this wake
_heartbeat_due = False      # a heartbeat is due (waiting for Wi-Fi)


def _since(t):
    return time.ticks_diff(time.ticks_ms(), t)


def _save():
    r = rt.rtc
    r.data["cb"] = _state
    r.save()
    if _state.get("a") or _state.get("bl"):
        store.write_json(_STATE_FILE, _state)
    else:
        store.remove(_STATE_FILE)


def setup(r):
    global rt, _state, _wake_t, _delivered_before
    rt = r
    _wake_t = time.ticks_ms()
    s = rt.rtc.get("cb")
    _state = s if isinstance(s, dict) else store.read_json(_STATE_FILE, None) or {}
    if rt.due("heartbeat", rt.cfg["heartbeat_min"] * 60, False):
        import energy                       # noqa: F401  now, while the heap is compact (_heartbeat)
    a = _state.get("a")
    if not a:
        return
    rt.stay_awake("alarm")                  # before the hello: a reboot waits
    st = a["st"]
    _delivered_before = st not in _UNSENT
    if not _delivered_before:
        a["st"] = "not_delivered"
    rt.rtc.set(_RTC_RETRIES, rt.rtc.get(_RTC_RETRIES, 0) + 1 if rt.wake_reason == "timer" else 0)
    log.i("button", "open ref=%s state=%s" % (a["ref"], a["st"]))
    if a["seq"] >= rt.outbox.next_seq:      # power cut before the event was stored
        _raise_alarm(a)


def _show(pat=None, bg=0, tune=None):
    """LED pattern and tune (same name unless given), LED background (0: keep)."""
    global _signalled
    _signalled = True
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


def _signals_idle():
    """No finite LED pattern or tune is playing."""
    if not _signalled:
        return True
    led, buz = rt.led, rt.buzzer
    return not ((led is not None and led.busy()) or (buz is not None and buz.busy()))


def _raise_alarm(a=None):
    """A new alarm (persisted first), or the resend of a restored one."""
    global _state_t, _raised_t, _delivered_before, _tone_t, _signal_due
    ob = rt.outbox
    if a is None:
        import os
        import binascii
        a = {"ref": "%x-%d-%s" % (ob.stream, ob.next_seq, binascii.hexlify(os.urandom(2)).decode()),
             "seq": ob.next_seq, "st": "sending"}
        _state["a"] = a
        _save()                             # a power cut cannot lose it from here on
        _state_t = _raised_t = time.ticks_ms()
        _delivered_before, _tone_t, _signal_due = False, None, None
        rt.stay_awake("alarm")
        rt.rtc.set(_RTC_RETRIES, 0)
        _show(bg="sending")
    d = {"ref": a["ref"], "kind": "call"}
    v = rt.battery.read() if rt.battery is not None else None
    if v is not None:
        d["battery_v"] = v
    a["seq"] = rt.emit("alarm", d)
    log.i("button", "alarm ref=%s seq=%d%s" % (a["ref"], a["seq"],
                                                "" if _raised_t is not None else " resent"))


def _enter(st):
    """The open alarm enters state st: persist, log, signal."""
    global _state_t, _signal_due
    a = _state["a"]
    a["st"] = st
    _state_t = time.ticks_ms()
    rt.rtc.set(_RTC_RETRIES, 0)
    rt.stay_awake("alarm")
    if st == "not_delivered":
        log.w("button", "not delivered ref=%s retry" % a["ref"])
    else:
        _save()
        log.i("button", "%s ref=%s" % (st, a["ref"]))
    _signal_due = st


def _close(s):
    global _ask_again, _signal_due
    ref = _state["a"]["ref"]
    _state["a"] = _signal_due = None
    _save()
    rt.due("alarm", 0)                      # when the last alarm closed (may_update)
    rt.allow_sleep("alarm")
    log.i("button", "closed ref=%s state=%s" % (ref, s))
    if _signalled:
        _show(bg=None)
    if _ask_again and s != "cancel":
        _raise_alarm()                            # that press was meant for a new alarm
    _ask_again = False


def _on_button(k):
    global _press_did, _ask_again, _signal_due, _cancel_t, _tone_t
    a = _state.get("a")
    if k == "down":
        _show("press")                       # before anything else
        if a is not None:
            _press_did = _OPEN
            log.i("button", "press ref=%s state=%s" % (a["ref"], a["st"]))
            if _tone_t is None:                 # "not delivered" tones from now on
                _tone_t = time.ticks_ms()           # (0 is a valid tick: test None, not truth)
            if rt.link.hello_ok:
                _signal_due = a["st"]              # re-signal where it stands
            else:
                _ask_again = True               # once the fleet said (_track)
        elif _cancel_t is not None and _since(_cancel_t) < TIMINGS_MS[_CANCEL_GRACE]:
            _press_did = _DEFER                    # just cancelled: raise only if it ends short
        else:
            _press_did = _RAISED
            _raise_alarm()
    elif k == "long":
        if _press_did == _OPEN and a is not None:
            seq = rt.emit("alarm_cancel", {"ref": a["ref"]})
            log.i("button", "cancel ref=%s seq=%d" % (a["ref"], seq))
            _cancel_t = time.ticks_ms()
            _close("cancel")
            _show("cancel")
        elif _press_did == _DEFER:
            log.i("button", "nothing to cancel")
            _show("nothing")
        elif a is not None:
            log.i("button", "long press ignored ref=%s (this press raised it)" % a["ref"])
    elif k == "press" and _press_did == _DEFER:
        _press_did = _RAISED
        _raise_alarm()


def _track():
    """Follow the open alarm (outbox ack, down.alarms) and show its signals."""
    global _ask_again, _tone_t, _signal_due
    a = _state.get("a")
    if a is None:
        return
    link = rt.link
    fs = link.alarms.get(a["ref"]) if link.hello_ok else None
    st = a["st"]
    if fs == "resolved" and st != "answered":
        # resolved before this button showed an answer (its power was cut after sending, or a
        # caregiver was quicker than its wake): someone came, so say so, then close
        _enter("answered")
        st = "answered"
    elif (fs in ("resolved", "cancelled") or (fs is None and _delivered_before and link.hello_ok)) \
            and _signal_due != "answered":
        _close(fs or "gone")
        return
    if _ask_again and (link.hello_ok or _since(_wake_t) > TIMINGS_MS[_RESIGNAL]):
        _ask_again, _signal_due = False, st            # still open: re-signal the press now
    if st in _UNSENT:
        if rt.outbox.ack >= a["seq"] or fs is not None:
            _enter("received")
        elif st == "sending" and _since(_state_t) >= TIMINGS_MS[_UNACKED]:
            _enter("not_delivered")
        elif st == "not_delivered" and _tone_t is not None and _since(_tone_t) >= TIMINGS_MS[_TONE_REPEAT]:
            _signal_due = st
    elif st == "received" and fs == "acknowledged" and _signal_due is None:
        _enter("answered")
    s = _signal_due
    if s is None or not _signals_idle():
        return
    _signal_due = None
    if s not in _UNSENT:
        _show(s, None)                       # received / answered
    elif s == "not_delivered" and (_tone_t is not None or _raised_t is not None):
        _tone_t = time.ticks_ms()
        _show(bg=s, tune=s)
    else:
        _show(bg=s)


def _heartbeat():
    """The heartbeat when due (waits up to TIMINGS_MS[_HEARTBEAT_WIFI] for Wi-Fi, to carry rssi)."""
    global _heartbeat_due
    p = rt.cfg["heartbeat_min"] * 60
    w = rt.wifi
    _heartbeat_due = rt.due("heartbeat", p, False)
    if _heartbeat_due and (w is None or w.isconnected() or _since(_wake_t) >= TIMINGS_MS[_HEARTBEAT_WIFI]):
        _heartbeat_due = False
        rt.due("heartbeat", p)
        import sys
        import energy                       # once a day: loaded, then dropped
        if energy.heartbeat(rt, _state):
            _save()
        sys.modules.pop("energy", None)


async def run():
    global _busy
    btn = rt.button
    k = await btn.get(0) if btn is not None and btn.pending() else None   # the wake press
    while True:
        _busy = True
        if k is not None:
            _on_button(k[0])
        elif _state.get("a") is not None and _state["a"]["st"] == "not_delivered" and _signal_due is None \
                and not _signalled:
            _show(bg="not_delivered")        # a retry wake: still not through
        _track()
        _heartbeat()
        _busy = False
        t = 100 if _state.get("a") or _signal_due or _heartbeat_due or _press_did == _DEFER else 1000
        k = await btn.get(t) if btn is not None else await asyncio.sleep_ms(t)


def should_sleep():
    if _busy or _heartbeat_due or not rt.battery_powered:
        return False
    _track()                                # what the link learnt since the last tick
    a = _state.get("a")
    if a is None:
        return _signal_due is None
    st = a["st"]
    delivering = _raised_t is not None and st in _UNSENT and _since(_raised_t) < TIMINGS_MS[_DELIVER]
    answering = st == "received" and _state_t is not None and _since(_state_t) < rt.cfg["answer_wait_s"] * 1000
    if _signal_due is not None or delivering or answering:
        return False                        # delivering, or waiting for the answer
    link, b, w = rt.link, rt.button, rt.wifi
    if link.settled():
        if not _signals_idle() or (b is not None and (b.pressed or b.pending())):
            return False
    elif not link.failing_ms() and (w is None or w.isconnected()) and _since(_wake_t) < TIMINGS_MS[_DELIVER]:
        rt.stay_awake("alarm")
        return False                        # talking to the fleet: reboots wait
    if "alarm" in rt.tokens:
        # settled: the runtime sleeps in this same step, so no reboot slips in between
        rt.allow_sleep("alarm")
        log.i("button", "sleep ref=%s state=%s wake in %d s" % (a["ref"], st, next_wake_ms() // 1000))
    return True


def next_wake_ms():
    ms = rt.ms_until("heartbeat", rt.cfg["heartbeat_min"] * 60)
    a = _state.get("a")
    if a is not None and a["st"] != "answered":
        ms = min(ms, TIMINGS_MS[_RETRY_FIRST] << min(rt.rtc.get(_RTC_RETRIES, 0), 5), TIMINGS_MS[_RETRY_MAX])
    return max(1000, ms)


def may_update():
    """OTA asks before it installs (docs/ota.md): never with an alarm open or in the 10 minutes
    after one, never on a low battery."""
    if _state.get("a") or "alarm" in rt.tokens:
        return "alarm_open"
    if rt.ms_until("alarm", 600):
        return "alarm_recent"
    if _state.get("bl"):
        return "low_battery"
    return None


def self_test():
    a = _state.get("a")
    return True, "alarm=%s" % (a["st"] if a else "none")
