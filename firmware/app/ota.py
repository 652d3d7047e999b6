# An update offer from the fleet (down.update), carried out (docs/ota.md "On the board"):
# may the device update now (the role's may_update(), the battery) -> in the runtime, a reboot
# into an update boot (otaboot.py: no role, no long-poll; ota.run there, lean) -> the signed manifest,
# fetched and kept, then verified (otatrust + devproto.ota) at the start of the next update boot,
# before TLS fragments the heap (otaboot.early; here, after the hello, without one) -> the
# artifact, downloaded with resume (otaget) and hashed -> installed into the inactive app slot (otaapp) or the next OTA partition (otafw) ->
# the switch (the slot on trial, or set_boot) -> reboot. The first boot of the new version is
# otagate's. Progress and outcome are "ota" events: deferred, downloading, verifying,
# installed, failed:<reason> (then pending, succeeded, rolled_back:<reason> from otagate).
# Loaded by the supervisor while an offer stands; nothing else keeps it.
import gc
import sys
import asyncio
import log
import store
from otastate import STATE, BUNDLE, DONE, drop, emit, done
from micropython import const

_BUF = const(1024)
_TRIES = const(5)                       # download attempts per wake before waiting for the next


def _guard(rt):
    """Why the device may not update now, or None."""
    f = getattr(rt.role, "may_update", None)
    why = f() if f is not None else None
    if why is None and rt.battery_powered and rt.battery is not None:
        v = rt.battery.read()
        if v is not None:
            import energy
            if energy.days_left(v, rt.cfg["heartbeat_min"]) < 2 * rt.cfg["low_battery_days"]:
                why = "low_battery"
            sys.modules.pop("energy", None)
    return why


async def run(rt, offer, lean=False):
    """lean: in an update boot (otaboot.py), whose normal wake asked the guard already."""
    rid = offer.get("id")
    last = store.read_json(DONE, None)
    if not isinstance(rid, str) or (isinstance(last, dict) and last.get("id") == rid) \
            or rt.ota_boot or rt.trial:
        return                          # carried out already, or a switch is on trial
    if not lean:
        # the wake's exchanges done first: the guard's and the update's code beside a
        # request's TLS connection is more than a small heap has
        await rt.link.wait_settled(15000)
        ub = getattr(rt, "update_boot", None)   # the runtime: the update in an update boot
        while True:
            await _guarded(rt, rid)
            if ub is None or not rt.ms_until("otaboot", 600):
                break
            rt.allow_sleep("update")            # an update boot ended unfinished a moment ago
            await asyncio.sleep_ms(60000)
        if ub is not None:
            ub(offer)
            return
    rt.stay_awake("update")
    await _update(rt, offer, rid)


def enter(rt, offer):
    """Store the offer and end the wake with a clean reboot into an update boot (otaboot.py).
    Here, not in otaboot: the offer wake has the role and the long-poll on its heap, and
    loading otaboot for these lines was what a .mpy offer wake ran out of heap on."""
    b = bool(rt.board.pin("button") is not None and getattr(rt, "pin_is_button", True))
    store.makedirs("/state")
    store.remove("/state/otaenv.json")  # (otaboot.ENV: an envelope of an offer before, fetched anew)
    store.write_json("/state/otaboot.json", {"offer": offer, "btn": b})     # otaboot.FILE
    log.i("otaboot", "%s: rebooting into an update boot" % offer.get("id"))
    rt.finish("reboot", "update boot")


async def _guarded(rt, rid):
    told = False
    while True:
        why = _guard(rt)
        if why is None:
            break
        if not told:
            log.i("ota", "%s deferred: %s" % (rid, why))
            emit(rt, rid, "deferred", why)
            told = True
        rt.allow_sleep("update")        # a battery device sleeps; the offer is seen next wake
        await asyncio.sleep_ms(60000)
    rt.stay_awake("update")


async def _manifest(rt, offer, rid):
    """The verified manifest, or None after a failed:<reason> event."""
    try:
        return await _check(rt, offer, rid)
    finally:
        drop("otatrust", "devproto.ota", "otafw")


async def _check(rt, offer, rid):
    ub = getattr(rt, "ub", None)        # an update boot (otaboot.py): its envelope verified early
    text = None
    if ub is None or not ub.get("env"):
        import otaget
        text = await otaget.text(rt.link, offer.get("manifest", ""))
        del otaget
        drop("otaget")                  # not beside the verify's big integers (the heap's peak)
        if ub is not None:              # kept; the next update boot verifies it first thing
            import otaboot
            otaboot.again(rt, text)
            return None
    import otatrust
    from devproto import ota
    t = otatrust.Trust()
    kind = offer.get("kind")
    cur = rt.app_version
    if kind == "firmware":
        import otafw
        cur = otafw.version(otafw.running()) or "0.0.0"
    try:
        if ub is not None and ub.get("refused"):
            raise ota.Refused(ub["refused"])    # refused by the early verify
        m = ub.pop("m", None) if ub is not None else None
        if m is None:                   # verified here: no update boot, or no heap early
            if text is None:            # the kept envelope (gone: bad_envelope)
                import otaboot
                try:
                    with open(store.path(otaboot.ENV)) as f:
                        text = f.read()
                except OSError:
                    text = ""
                store.remove(otaboot.ENV)
            m = ota.verify(text, t.lookup)
        del text
        ota.check_target(m, kind, rt.board_name, rt.config.get("role", ""),
                         rt.clock.now() if rt.clock.synced else None, cur, t.sv)
        if m["kind"] != "keys" and (m["size"] != offer.get("size") or m["sha256"] != offer.get("sha256")):
            raise ota.Refused("bad_manifest")   # the offer and the signed manifest disagree
    except ota.Refused as r:
        log.w("ota", "%s refused: %s" % (rid, r.reason))
        emit(rt, rid, "failed", r.reason)
        done(rt, rid, "failed")
        return None
    if m["kind"] == "keys":
        try:
            t.rotate(m)
        except ota.Refused as r:
            emit(rt, rid, "failed", r.reason)
            done(rt, rid, "failed")
            return None
        log.i("ota", "%s: keys rotated" % rid)
        emit(rt, rid, "succeeded")
        done(rt, rid, "succeeded")
        return None
    m["from"] = cur
    return m


async def _update(rt, offer, rid):
    m = await _manifest(rt, offer, rid)
    if m is None:
        return
    kind = m["kind"]
    st = store.read_json(STATE, None)
    if not isinstance(st, dict) or st.get("id") != rid:
        st = {"id": rid, "kind": kind, "v": m["version"], "sv": m["sv"], "from": m["from"],
              "gate": offer.get("gate_s", 300)}
        store.remove(BUNDLE)
    del m
    gc.collect()

    def save():
        store.write_json(STATE, st)
    save()
    part = None
    if kind == "firmware":
        import otafw
        part = otafw.target()
        st["part"] = otafw.label(part)
    try:
        await _install(rt, offer, rid, st, save, part, bytearray(_BUF), kind)
    finally:
        rt.link.resume()


async def _install(rt, offer, rid, st, save, part, buf, kind):
    # An update boot: the download and the install each have the heap to themselves -- the
    # link holds no connection and sends nothing meanwhile; the progress events wait in the
    # outbox and are sent between the two and after the switch (docs/ota.md)
    link = rt.link
    lean = getattr(rt, "ub", None) is not None
    if lean:
        await link.pause()
    digest = await _download(rt, offer, rid, st, save, part, buf)
    drop("otaget")
    if digest is None:
        return
    import binascii
    if binascii.hexlify(digest).decode() != offer["sha256"]:
        log.w("ota", "%s: hash mismatch, downloading again" % rid)
        emit(rt, rid, "failed", "hash_mismatch")
        done(rt, rid, "failed")
        return
    if lean:
        link.resume()
        await link.wait_acked(rt.outbox.next_seq - 1, 10000)
        await link.pause()
    emit(rt, rid, "verifying")
    try:
        if kind == "firmware":
            import otafw
            otafw.activate(part)
        else:
            import otaapp
            st["slot"] = "b" if rt.slot == "a" else "a"
            v = otaapp.install(BUNDLE, st["slot"], buf)
            del otaapp                  # (the local name would keep the module alive)
            drop("otaapp", "devproto.ota")     # (otaapp loads the bundle format)
            if v != st["v"]:
                raise ValueError("bundle version %s" % v)
            store.remove(BUNDLE)
    except OSError as ex:
        emit(rt, rid, "failed", "disk_full" if ex.args and ex.args[0] == 28 else "flash")
        done(rt, rid, "failed")
        return
    except Exception as ex:
        log.exc("ota", "install", ex)
        emit(rt, rid, "failed", "bad_bundle")
        done(rt, rid, "failed")
        return
    st["step"] = "sw"
    save()
    import bootstate
    boot = bootstate.load()
    b = boot.st                         # the switch: boot.py's state, written once
    if kind == "app":
        b["slot"] = st["slot"]
        b["trial"] = True
        b["tries"] = 0
        if b.get("bad") == st["slot"]:
            del b["bad"]
    b["pending"] = False                # this reset is not a failed boot of the new version
    b["ota"] = 1
    rt.healthy = True                   # a hello from now on must not confirm the new slot
    boot._save()
    del boot, b, buf, bootstate
    drop("bootstate")                   # the heap for the "installed" event's request
    log.i("ota", "%s installed (%s), rebooting into it" % (rid, st.get("slot") or st.get("part")))
    seq = emit(rt, rid, "installed", None, None, st["v"])
    if seq is not None:
        link.resume()
        await link.wait_acked(seq, 10000)
    rt.finish("reboot", "ota " + rid)


async def _download(rt, offer, rid, st, save, part, buf):
    import otaget
    import httpc
    if part is not None:
        import otafw
        sink = otafw.PartSink(part, st, save, offer["size"])
    else:
        sink = otaget.FileSink(BUNDLE)
    have = sink.size()
    if have:
        log.i("ota", "%s: resuming at %d of %d bytes" % (rid, have, offer["size"]))
    emit(rt, rid, "downloading", None, have * 100 // offer["size"])

    def report(pct):
        emit(rt, rid, "downloading", None, pct)
    n = 0
    while True:
        try:
            return await otaget.fetch(rt.link, offer["url"], sink, offer["size"], offer["sha256"], buf, report)
        except otaget.Busy:
            log.i("ota", "%s: the server is busy, waiting" % rid)
            await asyncio.sleep_ms(30000)
        except otaget.Gone:
            log.w("ota", "%s: the download URL expired, asking for a new offer" % rid)
            rt.link.need_hello = True
            rt.link.kick()
            rt._upd = None              # the fresh offer starts this again
            return None
        except httpc.HttpError as ex:
            n += 1
            log.w("ota", "%s: download cut (%s), try %d" % (rid, ex, n))
            if n >= _TRIES:
                return None             # the state stays: the next wake resumes
            await asyncio.sleep_ms(1000 << n)
        except OSError as ex:
            reason = "disk_full" if ex.args and ex.args[0] == 28 else "flash"
            log.w("ota", "%s: cannot write: %s" % (rid, reason))
            emit(rt, rid, "failed", reason)
            done(rt, rid, "failed")
            return None
