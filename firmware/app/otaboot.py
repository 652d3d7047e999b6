# The update boot (docs/ota.md "On the board"): an update runs in a wake of its own, without
# the role and the long-poll, so that the heap holds the link and one OTA phase at a time.
#
# A normal wake whose offer the guard lets go (ota.run: the role's may_update(), the battery)
# stores the offer in /state/otaboot.json and reboots cleanly (ota.enter: not here, so that
# the offer wake, beside the role and the long-poll, never loads this module). supervisor.main() reads
# that file before the runtime loads, as it decides setup mode; startup.init removes it, and
# startup starts only the outbox, Wi-Fi, the link, the watchdog, the button and run() below.
# run() carries out the update (ota.run, lean: the guard was asked already) while watching the
# button: a press ends the update boot at once (the update resumes from what is on flash when
# the offer comes again: the alarm's guard holds it back meanwhile). Every update boot ends in
# a clean reboot that leaves a note in the same file: {"press": 1} makes the next boot a pin
# wake (the press is the role's, as the press that wakes a board), {"end": 1} only spares the
# next boot the setup-mode button check. An update boot that ended without installing keeps
# the next one 10 minutes away (the RTC schedule "otaboot"), so a failing download never loops.
#
# The signed manifest is verified first thing in an update boot (early, from startup.init),
# before the SSLContext, Wi-Fi and the link take the heap: RSA-3072's big integers need blocks
# of 768 bytes in one piece, which a heap fragmented by a TLS connection may not have. So the
# first update boot for an offer only fetches the envelope (ota._check, after the hello), keeps
# it in ENV and reboots into the next update boot ({"offer", "btn", "env": 1}: again), which
# verifies it before anything else; ota._check then checks the verified manifest against this
# board (check_target: the fleet's clock is set by then) and the offer, and the download's
# hash against both, as before. Nothing is installed from a manifest that was not verified:
# an early verify that ran out of heap leaves the envelope to be verified where it was before
# (after the hello), and one refused is the update's failed:<reason>.
import sys
import asyncio
import log
import store
from micropython import const

FILE = const("/state/otaboot.json")     # (ota.enter writes it too: keep equal)
ENV = const("/state/otaenv.json")   # the offer's signed envelope, fetched by an update boot
RETRY_S = const(600)            # after an unfinished update boot, the next one waits this long
                                # (ota.run asks rt.ms_until("otaboot", 600): keep them equal)
_SEND_MS = const(10000)         # the update's last events: sent before the reboot, if they can be
_HELLO_MS = const(60000)        # the update starts after this boot's hello, or not at all


def again(rt, text):
    """The update boot's envelope (text) kept, and a clean reboot into an update boot that
    verifies it before anything else takes the heap (early)."""
    ub = rt.ub
    store.write_atomic(ENV, text)
    store.write_json(FILE, {"offer": ub["offer"], "btn": ub.get("btn", False), "env": 1})
    log.i("otaboot", "envelope kept: rebooting to verify it first")
    rt.finish("reboot", "update boot: verify first")


def early(rt):
    """startup.init, in an update boot whose envelope is kept (ENV): verify it now, while the
    heap holds only the runtime's first objects. rt.ub["m"]: the verified manifest (its target
    checked later, by ota._check), or rt.ub["refused"]: the reason. Nothing set when the heap
    ran out even here (ota._check verifies the kept envelope after the hello, as before)."""
    import gc
    ub = rt.ub
    gc.collect()
    try:
        import otatrust
        from devproto import ota
        try:
            with open(store.path(ENV)) as f:
                text = f.read()
            ub["m"] = ota.verify(text, otatrust.Trust().lookup)
        except ota.Refused as r:
            ub["refused"] = r.reason
        except OSError:
            ub["refused"] = "bad_envelope"      # (kept, and gone from flash since)
        text = None
        store.remove(ENV)
        log.i("otaboot", "manifest %s" % (ub.get("refused") or "verified"))
    except MemoryError:
        log.w("otaboot", "no heap for the verify at the start: verified after the hello")
    finally:
        sys.modules.pop("otatrust", None)
        sys.modules.pop("devproto.ota", None)
        import devproto
        devproto.__dict__.pop("ota", None)
        gc.collect()


async def run(rt):
    offer = rt.ub["offer"]
    b = rt._drv.get("button")
    try:
        await _watch(rt, offer, b)
    finally:
        # installed (or the runtime's own end): no press to carry. In a finally: the install
        # ends in rt.finish() in the "ota" task, and the runtime's run() cancels this task as
        # soon as it wakes -- before this task's 20 ms sleep is over, unless the loop was
        # late enough for both to be due at once (a race the heap gates lost in clean runs)
        if rt.decision is not None and not store.exists(FILE):
            _note(rt, "end")


async def _watch(rt, offer, b):
    t = over = None
    n = 0                               # ms since the start, then since the update ended
    while rt.decision is None:
        await asyncio.sleep_ms(20)
        n += 20
        if rt.decision is not None:     # installed: the switch's reboot
            break
        if b is not None and (b.pressed or b.pending()):
            log.i("otaboot", "a press: the update boot ends, the press is the next boot's")
            _note(rt, "press")
            rt.finish("reboot", "press in the update boot")
            break
        if over is None:
            if t is None:
                if rt.link.hello_ok:    # Wi-Fi up, the clock set, the errors told: the update
                    t = rt.spawn("ota", lambda: _ota(rt, offer), False)
                elif n > _HELLO_MS:
                    over, n = "no hello in %d s" % (n // 1000), _SEND_MS
            elif t.done():              # and no reboot decided: failed, cut or refused
                over, n = "the update ended", 0
        if over is not None and (not rt.outbox.pending() or n >= _SEND_MS):
            log.w("otaboot", "%s: the update boot is over" % over)   # (its events sent, if they can be)
            if not _succeeded(offer):   # (a key rotation ends here too: the next offer need not wait)
                rt.due("otaboot", 0)    # (marks now: the next update boot waits RETRY_S)
            _note(rt, "end")
            rt.finish("reboot", "update boot over")


def _succeeded(offer):
    from otastate import DONE
    d = store.read_json(DONE, None)
    return isinstance(d, dict) and d.get("id") == offer.get("id") and d.get("res") == "succeeded"


def _note(rt, what):
    try:
        store.write_json(FILE, {what: 1})
    except OSError:
        pass


async def _ota(rt, offer):
    # after the hello's exchange (its events' TLS connection), not beside it: `ota` and the
    # verify beside a handshake ran out of heap in an update boot on a busy CPU
    await rt.link.wait_settled(15000)
    import ota
    try:
        await ota.run(rt, offer, True)
    finally:
        rt.allow_sleep("update")
        sys.modules.pop("ota", None)
