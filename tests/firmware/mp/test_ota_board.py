# An app update on the board, on the real MicroPython interpreter and LittleFS: ota.py with
# otaget (resumable download from the FakeFleet's file route), otaapp (install into the inactive
# slot), otatrust, then otagate (the health gate after the switch). The runtime here is a small
# stand-in with the members ota.py uses (the whole runtime runs it in hil_tests/ on virtual
# boards); the flash, the HTTP and the signatures are real. MicroPython.
import os
import sys
import json
import time
import asyncio
import hashlib
import binascii
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import httpc  # noqa: E402
import config  # noqa: E402
import mpflash  # noqa: E402
import _vbflash  # noqa: E402
import ota  # noqa: E402
import otagate  # noqa: E402
import otatrust  # noqa: E402
from fakectl import fleet  # noqa: E402

with open(os.getenv("OTA_CASE")) as _f:
    C = json.load(_f)
GOOD = C["good"]


class Link:
    def __init__(self):
        _, host, port, _b = config.parse_url(C["base"])
        self.conn = httpc.Conn(host, port)
        self.base = ""
        self.hello_ok = True
        self.need_hello = False

    def kick(self):
        pass

    async def wait_acked(self, seq, ms):
        return True

    async def wait_settled(self, ms):
        return True

    async def pause(self):
        pass

    def resume(self):
        pass


class Clock:
    synced = True

    def now(self):
        return C["now"]


class Rt:
    """What ota.py and otagate.py use of the runtime."""

    def __init__(self, slot="a", role=None):
        st = store.read_json("/state/boot.json", None) or {}     # as startup.init reads it
        self.ota_boot = bool(st.get("ota"))
        self.trial = bool(st.get("trial"))
        self.healthy = True
        self.slot = slot
        self.app_version = "1.0.0"
        self.board_name = "virtual"
        self.config = {"role": "call_button"}
        self.cfg = {"heartbeat_min": 1440, "low_battery_days": 30}
        self.role = role
        self.battery_powered = False
        self.battery = None
        self.link = Link()
        self.clock = Clock()
        self.tokens = set()
        self.events = []
        self.decision = None
        self._upd = None
        self.outbox = self
        self._cmds = set()

    def pending(self):                  # (rt.outbox, for the self-test)
        return 0

    def used(self):
        return 0

    def emit(self, kind, data):
        self.events.append(data)
        return len(self.events)

    def stages(self):
        return [e["stage"] + (":" + e["reason"] if "reason" in e else "") for e in self.events]

    def stay_awake(self, r):
        self.tokens.add(r)

    def allow_sleep(self, r):
        self.tokens.discard(r)

    def finish(self, kind, arg=None):
        self.decision = (kind, arg)

    def spawn(self, name, fn, restart=True):
        return asyncio.create_task(fn())


def _board(trust=True):
    """Slot a holds the running app (1.0.0); the release key is trusted."""
    store.makedirs("/app_a")
    store.write_json("/app_a/app.json", {"version": "1.0.0"})
    store.write_atomic("/app_a/supervisor.mpy", b"running code " * 100)
    store.write_json("/state/boot.json", {"slot": "a", "good": "a"})
    if trust:
        store.makedirs("/keys")
        store.write_atomic("/keys/%s.rsa" % C["kid"], binascii.unhexlify(C["n"]))


def _slot_a():
    h = hashlib.sha256()
    for n in ("app.json", "supervisor.mpy"):
        with open(store.path("/app_a/" + n), "rb") as f:
            h.update(f.read())
    return h.digest()


def _offer(**kw):
    o = dict(GOOD)
    o["gate_s"] = 2
    o.update(kw)
    return o


def _version(slot):
    v = store.read_json("/app_%s/app.json" % slot, None)
    return v and v.get("version")


async def _requests():
    return (await fleet("/_fake/files", {"forget": True}))["requests"]


async def test_an_app_update_is_verified_installed_into_the_other_slot_and_switched():
    _board()
    before = _slot_a()
    await _requests()
    rt = Rt()
    await ota.run(rt, _offer())
    st = rt.stages()
    eq(st[0], "downloading")
    eq(st[-3:], ["downloading", "verifying", "installed"][-3:] if st[-3] == "downloading" else st[-3:])
    ok("verifying" in st and st[-1] == "installed", st)
    eq(rt.events[-1]["version"], "9.0.0")
    eq(_version("b"), "9.0.0")
    ok(store.exists("/app_b/supervisor.mpy") and store.exists("/app_b/devproto/ota.mpy"))
    eq(_slot_a(), before, "the running slot is untouched")
    b = store.read_json("/state/boot.json")
    # boot.json keeps no false/zero fields (inline in LittleFS's metadata): absent is false
    eq((b["slot"], b["trial"], b["good"], b["ota"], bool(b.get("pending"))), ("b", True, "a", 1, False))
    eq(rt.decision[0], "reboot")
    ok(not store.exists("/ota.bin"), "the bundle is removed after the install")
    eq([r[0] for r in await _requests()], ["good.env", "good.bin"])


async def test_the_download_resumes_with_range_after_a_wifi_cut():
    _board()
    await _requests()
    await fleet("/_fake/files", {"cut": {"good.bin": 20000}})
    rt = Rt()
    await ota.run(rt, _offer())
    eq(rt.stages()[-1], "installed")
    reqs = [r for r in await _requests() if r[0] == "good.bin"]
    eq(len(reqs), 2)
    eq(reqs[0][1], "bytes=0-")
    start = int(reqs[1][1][6:-1])
    ok(0 < start <= 20000, "resumed at %d" % start)
    eq(_version("b"), "9.0.0")


async def test_a_power_cut_during_the_download_resumes_from_what_is_on_flash():
    _board()
    await _requests()
    mpflash.power_cut(150)               # some way into the download's flash writes
    rt = Rt()
    try:
        await ota.run(rt, _offer())
        ok(False, "the power cut did not happen")
    except _vbflash.PowerCut:
        pass
    mpflash.flash().cut_after = 0
    mpflash.power_on()
    rt = Rt()
    have = os.stat(store.path("/ota.bin"))[6]
    ok(have > 0, "part of the bundle was synced before the cut")
    await ota.run(rt, _offer())
    eq(rt.stages()[-1], "installed")
    last = [r for r in await _requests() if r[0] == "good.bin"][-1]
    eq(last[1], "bytes=%d-" % have)
    eq(_version("b"), "9.0.0")


async def test_a_tampered_artifact_is_refused_and_nothing_switches():
    _board()
    before = _slot_a()
    rt = Rt()
    await ota.run(rt, _offer(url=C["base"] + "tampered.bin"))
    eq(rt.stages()[-1], "failed:hash_mismatch")
    eq(_version("b"), None)
    eq(store.read_json("/state/boot.json")["slot"], "a")
    eq(_slot_a(), before)
    eq(rt.decision, None)
    # the same offer is not tried again
    rt2 = Rt()
    await ota.run(rt2, _offer(url=C["base"] + "tampered.bin"))
    eq(rt2.events, [])


async def test_a_path_is_fetched_from_the_fleet_itself():
    _board()
    await _requests()
    rt = Rt()
    path = "/_fake/files/"
    await ota.run(rt, _offer(manifest=path + "good.env", url=path + "good.bin"))
    eq(rt.stages()[-1], "installed")
    eq([r[0] for r in await _requests()], ["good.env", "good.bin"])


async def test_an_unknown_key_stops_it_before_any_download():
    _board(trust=False)
    await _requests()
    rt = Rt()
    await ota.run(rt, _offer())
    eq(rt.stages(), ["failed:unknown_key"])
    eq([r[0] for r in await _requests()], ["good.env"])


async def test_an_offer_that_disagrees_with_its_signed_manifest_is_refused():
    _board()
    rt = Rt()
    await ota.run(rt, _offer(sha256="00" * 32))
    eq(rt.stages(), ["failed:bad_manifest"])


async def test_a_full_disk_fails_cleanly_and_keeps_the_running_slot():
    _board()
    before = _slot_a()
    store.makedirs("/filler")
    n = 0
    try:                                # fill the filesystem, one committed file at a time
        while True:
            with open(store.path("/filler/%d" % n), "wb") as f:
                f.write(b"\0" * 8192)
            n += 1
    except OSError:
        pass
    ok(n > 10, "filled with %d files" % n)
    store.remove("/state/otadone.json")
    rt = Rt()
    await ota.run(rt, _offer())
    ok(rt.stages()[-1] in ("failed:disk_full",), rt.stages())
    eq(store.read_json("/state/boot.json")["slot"], "a")
    eq(_slot_a(), before)
    eq(rt.decision, None)


async def test_a_power_cut_anywhere_in_the_install_never_harms_the_running_slot():
    _board()
    before = _slot_a()
    rt = Rt()
    await ota.run(rt, _offer())         # downloaded and installed once: the bundle to replay
    import otaapp
    buf = bytearray(1024)
    with open(store.path("/app_b/app.json")) as f:
        f.read()
    k, cuts = 1, 0
    while k < 5000:
        # the verified bundle back on flash, slot b cleared by the install itself
        await _fetch_bundle()
        mpflash.power_cut(k)
        try:
            otaapp.install("/ota.bin", "b", buf)
            done = True
        except _vbflash.PowerCut:
            done = False
        mpflash.flash().cut_after = 0
        if done:
            break
        cuts += 1
        mpflash.power_on()
        eq(_slot_a(), before, "cut %d" % k)
        v = _version("b")
        ok(v is None or v == "9.0.0", "cut %d: slot b is invalid or whole (%s)" % (k, v))
        k += 97
    ok(cuts >= 3, "cuts tried: %d" % cuts)
    eq(_version("b"), "9.0.0")


async def _fetch_bundle():
    import otaget
    sink = otaget.FileSink("/ota.bin")
    store.remove("/ota.bin")
    await otaget.fetch(Link(), GOOD["url"], sink, GOOD["size"], GOOD["sha256"], bytearray(1024))


class Role:
    def __init__(self, why=None, test=True):
        self.why = why
        self.test = test

    def may_update(self):
        return self.why

    def self_test(self):
        return self.test, "role"


async def test_a_call_button_with_an_open_alarm_defers_and_downloads_nothing():
    _board()
    await _requests()
    rt = Rt(role=Role("alarm_open"))
    try:
        await asyncio.wait_for_ms(ota.run(rt, _offer()), 500)
    except asyncio.TimeoutError:
        pass
    eq(rt.stages(), ["deferred:alarm_open"])
    eq(await _requests(), [])
    eq(_version("b"), None)


async def _switched():
    _board()
    rt = Rt()
    await ota.run(rt, _offer())
    eq(rt.stages()[-1], "installed")


async def _gate(rt):
    otagate.start(rt)
    t0 = time.ticks_ms()
    while "ota" in rt.tokens and time.ticks_diff(time.ticks_ms(), t0) < 8000:
        await asyncio.sleep_ms(50)


async def test_the_gate_confirms_the_new_slot_after_hello_and_self_test():
    await _switched()
    rt = Rt("b", Role())
    await _gate(rt)
    eq(rt.stages(), ["pending", "succeeded"])
    b = store.read_json("/state/boot.json")
    eq((b["slot"], bool(b.get("trial")), b["good"], "ota" in b), ("b", False, "b", False))
    eq(otatrust.Trust().sv, 1)
    ok(not store.exists(ota.STATE))


async def test_the_gate_rolls_back_when_the_fleet_is_unreachable():
    await _switched()
    rt = Rt("b", Role())
    rt.link.hello_ok = False
    await _gate(rt)
    eq(rt.stages(), ["pending", "rolled_back:no_fleet"])
    eq(rt.events[-1]["version"], "1.0.0")
    b = store.read_json("/state/boot.json")
    eq((b["slot"], b["bad"], bool(b.get("trial")), "ota" in b), ("a", "b", False, False))
    ok("rolled back" in b["note"])
    eq(rt.decision[0], "reboot")
    eq(otatrust.Trust().sv, 0, "a rolled back release does not raise the security version")


async def test_the_gate_rolls_back_when_the_self_test_fails():
    await _switched()
    rt = Rt("b", Role(test=False))
    await _gate(rt)
    eq(rt.stages(), ["pending", "rolled_back:self_test"])
    eq(store.read_json("/state/boot.json")["slot"], "a")


async def test_a_crash_at_boot_that_boot_py_rolled_back_is_reported():
    await _switched()
    b = store.read_json("/state/boot.json")
    b.update({"slot": "a", "bad": "b", "trial": False, "note": "slot b failed 3 boots, fell back to a"})
    store.write_json("/state/boot.json", b)
    rt = Rt("a", Role())
    await _gate(rt)
    eq(rt.stages(), ["rolled_back:crash"])
    ok("ota" not in store.read_json("/state/boot.json"))


mptest.main(globals())
