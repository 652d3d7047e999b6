# Link (protocol v1.1 client) against FakeFleet, a CPython server started by the pytest
# runner that verifies signatures and signs replies with CPython devproto. MicroPython.
import os
import json
import time
import binascii
import asyncio
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import devproto  # noqa: E402
import config  # noqa: E402
import outbox  # noqa: E402
from rtcmem import Clock  # noqa: E402
from rtcmem import RtcMem  # noqa: E402
import link  # noqa: E402
import httpc  # noqa: E402
from machine import FAKE  # noqa: E402
from fakectl import URL, fleet  # noqa: E402


def _hex(n):
    return binascii.hexlify(os.urandom(n)).decode()


async def ctl(**kw):
    await fleet("/_fake/ctl", kw)


async def state(dev):
    return await fleet("/_fake/state?device_id=" + dev)


class Rig:
    """Config + outbox + clock + link on a fresh flash root, enrolled or not."""

    def __init__(self, token=None, url=URL):
        store.write_json("/config.json", {
            "role": "smart_bin", "board": "virtual", "fleet_url": url,
            "enroll_token": token or ("et_" + _hex(6)), "site": "lab-1"})
        store.remove("/state/devcfg.json")
        d = store.path("/state/outbox")
        try:
            for n in os.listdir(d):
                os.remove(d + "/" + n)
        except OSError:
            pass
        self.cfg = config.Config()
        self.clock = Clock()
        self.ob = outbox.Outbox(clock=self.clock)
        self.cmds = []
        self.hellos = []
        self.hw = _hex(6)
        self.link = link.Link(self.cfg, self.ob, self.clock, self.hello, None, None,
                              self.cmds.append, self.hellos.append, "virtual", lambda: self.hw)

    def hello(self):
        return {"fw": "1.29.0", "app": "0.1.0", "slot": "a", "board": "virtual",
                "role": "smart_bin", "reset_cause": "power_on", "wake_reason": "none",
                "heap_free": 50000, "cv": self.cfg.cv, "stream": self.ob.stream,
                "seq": self.ob.next_seq - 1, "errors": ["x: boom"]}

    async def up(self):
        await self.link.enroll()
        await self.link.hello()
        return self.cfg.get("device_id")


def test_signature_matches_cpython_devproto():
    case = json.loads(os.getenv("SIG_CASE"))
    got = devproto.sign(case["secret"], case["method"], case["path"], case["ts"], case["nonce"],
                        case["body"].encode())
    eq(got, case["sig"])
    # the worked example of docs/protocol.md
    eq(devproto.sign("00" * 32, "POST", "/api/v1/device/hello", 1700000000, "abcdef0123", b"{}"),
       "8268f44b520d581b667d94257c8e674f86bb89e630589bc8d5ff143e95fc1b03")


async def test_enroll_rewrites_config_and_hello_is_exact():
    r = Rig()
    await r.link.enroll()
    with open(store.path("/config.json")) as f:
        ident = json.load(f)
    ok("enroll_token" not in ident)
    ok(devproto.is_hex(ident["secret"], 64, 64))
    dev = ident["device_id"]
    await r.link.hello()
    ok(r.link.hello_ok and r.link.online)
    eq(r.hellos, [1])                      # one error string was reported
    st = await state(dev)
    eq(st["hellos"], [r.hello()])          # exactly the fields sent, nothing added
    eq(r.cfg.cv, 1)                        # config from enrollment applied


async def test_events_acked_and_removed_from_outbox():
    r = Rig()
    dev = await r.up()
    for i in range(3):
        r.ob.append("telemetry", {"i": i}, t=1796031150 + i)
    r.ob.append("alarm", {"ref": "a-1", "kind": "call"})
    n = await r.link.send_events()
    eq(n, 4)
    eq(r.ob.pending(), 0)
    eq(r.ob.ack, 4)
    evs = (await state(dev))["events"]
    eq([e["seq"] for e in evs], [1, 2, 3, 4])
    eq(evs[0], {"seq": 1, "t": 1796031150, "type": "telemetry", "data": {"i": 0}})
    eq(evs[3]["data"], {"ref": "a-1", "kind": "call"})
    # a hello after the events reports the stream's ack
    await r.link.hello()
    eq(r.ob.ack, 4)


async def test_stale_timestamp_sets_the_system_clock_from_signed_time_and_retries():
    r = Rig()
    dev = await r.up()
    await ctl(device_id=dev, skew=3600)   # the fleet's clock is an hour ahead of ours
    r.ob.append("heartbeat", {"interval_min": 60})
    n = await r.link.send_events()
    eq(n, 1)
    ok(r.clock.synced)
    ok(3590 <= r.clock.now() - int(FAKE_HOST()) <= 3610, "clock %d" % r.clock.now())
    ok(abs(time.time() + 946684800 - r.clock.now()) <= 1, "machine.RTC() is not what was set")
    await ctl(device_id=dev, skew=-7200)
    await r.link.hello()
    ok(-7210 <= r.clock.now() - int(FAKE_HOST()) <= -7190)


def FAKE_HOST():
    """The host's own clock, Unix seconds (the fake time module is the board's, set by RTC)."""
    return time.utime.time_ns() // 1000000000


def test_signed_time_is_parsed_as_integers_to_the_millisecond():
    c = Clock(RtcMem())
    step = c.set("1796031157.980")
    ok(abs(step - (1796031157 - int(FAKE_HOST()))) <= 1, "step %d" % step)
    eq(time.gmtime()[:6], (2026, 11, 30, 9, 32, 37))        # the RTC, to the second...
    ms = time.time_ns() // 1000000 % 1000
    ok(970 <= ms <= 999, "milliseconds %d" % ms)                # ...and the milliseconds
    eq(c.now(), 1796031157)
    ok(c.synced and RtcMem().get("clock") is True)      # kept across deep sleep
    off = time.OFF[0]
    eq(c.set("1796031158.200"), 0)                       # within the second: left alone
    for bad in ("1796031157.98", "1.7e9", "", "1796031157"):
        eq(c.set(bad), 0)
    eq(time.OFF[0], off)


async def test_reply_with_flipped_alarm_state_is_refused():
    r = Rig()
    dev = await r.up()
    await ctl(device_id=dev, alarms={"a-1": "received"})
    await r.link.hello()
    eq(r.link.alarms, {"a-1": "received"})
    await ctl(device_id=dev, tamper=1)   # a man in the middle turns "received" into "acknowledged"
    try:
        await r.link.hello()
        ok(False, "a tampered reply was believed")
    except httpc.HttpError as ex:
        ok("not signed" in str(ex), str(ex))
    eq(r.link.alarms, {"a-1": "received"})
    await r.link.hello()                 # the next, genuine reply is believed
    eq(r.link.alarms, {"a-1": "received"})


async def test_reply_with_moved_time_or_without_signature_is_refused():
    r = Rig()
    dev = await r.up()
    before = r.clock.now()
    await ctl(device_id=dev, tamper=1)   # no alarms: the attacker moves the time a day ahead
    try:
        await r.link.hello()
        ok(False, "a reply with a moved time was believed")
    except httpc.HttpError:
        pass
    ok(abs(r.clock.now() - before) < 5, "clock moved by %d" % (r.clock.now() - before))
    await ctl(device_id=dev, unsigned=1)
    try:
        await r.link.hello()
        ok(False, "an unsigned reply was believed")
    except httpc.HttpError:
        pass


async def test_unsigned_replies_are_retried_like_network_errors():
    r = Rig()
    dev = await r.up()
    await ctl(device_id=dev, unsigned=2)
    seq = r.ob.append("heartbeat", {})
    t = asyncio.create_task(r.link.run())
    acked = await r.link.wait_acked(seq, 8000)
    t.cancel()
    ok(acked, "not acked after the unsigned replies")
    eq(len((await state(dev))["events"]), 1)


async def test_downlink_config_commands_alarms():
    r = Rig()
    dev = await r.up()
    cmd = {"id": 12, "name": "identify", "args": {}}
    await ctl(device_id=dev, config={"heartbeat_min": 5}, commands=[cmd], alarms={"a-7": "received"})
    g = r.link.gen
    await r.link.hello()
    eq(r.cfg["heartbeat_min"], 5)
    eq(r.cfg.cv, 2)
    eq(config.Config()["heartbeat_min"], 5)     # persisted with its version
    eq(r.cmds, [cmd])
    eq(r.link.alarms, {"a-7": "received"})
    ok(r.link.gen > g)
    ok(r.link.cursor >= 2)


async def test_news_is_announced_when_down_changes_or_events_are_acked():
    # the runtime points on_news at the button driver's nudge(): a call button waiting for its
    # next look sees "received"/"answered" at once
    r = Rig()
    news = []
    r.link.on_news = lambda: news.append(1)
    r.link.down({"cursor": r.link.cursor})          # nothing changed: no news
    eq(news, [])
    r.link.down({"alarms": {"a-1": "acknowledged"}})
    eq(len(news), 1)
    await r.up()
    n0 = len(news)
    r.ob.append("alarm", {"ref": "a-2", "kind": "call"})
    eq(await r.link.send_events(), 1)
    ok(len(news) > n0, "no news for the acked event")


def test_cursor_going_backwards_is_adopted():
    # docs/protocol.md: a fleet restored from a backup answers a lower cursor; the device
    # takes it, or its long-poll would wait for a number the fleet is far from reaching.
    r = Rig()
    r.link.down({"cursor": 40})
    g = r.link.gen
    r.link.down({"cursor": 7, "alarms": {}})
    eq(r.link.cursor, 7)
    ok(r.link.gen > g)


async def held_poll(r):
    """(device id, poll task) once the rig's long-poll is held by the fleet."""
    dev = await r.up()
    await ctl(device_id=dev, config={"poll_wait_s": 10})
    await r.link.hello()
    import poll
    t = asyncio.create_task(poll.run(r.link))
    await asyncio.sleep_ms(300)
    return dev, t


async def test_long_poll_delivers_change_quickly():
    r = Rig()
    dev, t = await held_poll(r)
    g = r.link.gen
    t0 = time.ticks_ms()
    await ctl(device_id=dev, alarms={"a-9": "acknowledged"})
    changed = await r.link.wait_change(5000, g)
    dt = time.ticks_diff(time.ticks_ms(), t0)
    t.cancel()
    ok(changed, "no change seen")
    eq(r.link.alarms.get("a-9"), "acknowledged")
    ok(dt < 1500, "took %d ms" % dt)


async def test_after_news_the_poll_waits_a_tick_then_polls_again():
    # The role shows news in the runtime's next 100 ms tick (a call button's "answered" tune):
    # the next poll's request is not made beside it, but soon after (poll._AFTER_NEWS_MS).
    r = Rig()
    dev, t = await held_poll(r)
    g = r.link.gen
    await ctl(device_id=dev, alarms={"a-10": "acknowledged"})
    ok(await r.link.wait_change(5000, g), "no change seen")
    await asyncio.sleep_ms(1000)
    t.cancel()
    times = (await state(dev))["poll_times"]
    news = [i for i, (ms, new) in enumerate((await state(dev))["polls"]) if new]
    ok(news and news[0] + 1 < len(times), "no poll after the news: %r" % times)
    gap = times[news[0] + 1][0] - times[news[0]][1]
    ok(140 <= gap < 900, "next poll %d ms after the news" % gap)


async def test_after_news_a_busy_runtime_gets_its_tick_before_the_next_poll():
    # On a busy CPU the runtime's tick that shows the news comes later than 150 ms: the next
    # poll waits until the runtime says it ran (link.shown), up to a second more.
    r = Rig()
    r.link.shown = 0                      # a runtime is there, its last tick before any news
    dev, t = await held_poll(r)
    g = r.link.gen
    await ctl(device_id=dev, alarms={"a-11": "acknowledged"})
    ok(await r.link.wait_change(5000, g), "no change seen")
    await asyncio.sleep_ms(600)
    n = len((await state(dev))["poll_times"])
    r.link.shown = r.link.gen             # the runtime's tick has shown it now
    await asyncio.sleep_ms(500)
    t.cancel()
    times = (await state(dev))["poll_times"]
    news = [i for i, (ms, new) in enumerate((await state(dev))["polls"]) if new]
    eq(n, news[0] + 1)                    # no poll while the runtime was behind
    ok(news[0] + 1 < len(times), "no poll once the runtime had its tick: %r" % times)
    gap = times[news[0] + 1][0] - times[news[0]][1]
    ok(600 <= gap < 1100, "next poll %d ms after the news" % gap)


async def test_news_just_as_a_wait_starts_is_not_lost():
    # The waiter has checked for news and started waiting, but its waiting task has not run
    # yet when the news comes (a poll answer handled in the same scheduler pass).
    r = Rig()
    for wait in (lambda: r.link.wait_change(3000, r.link.gen), lambda: r.link.wait_acked(1, 3000)):
        w = asyncio.create_task(wait())
        await asyncio.sleep_ms(0)
        t0 = time.ticks_ms()
        r.link.down({"alarms": {"a-%d" % t0: "acknowledged"}})
        r.ob.ack = 1
        ok(await w, "no news seen")
        dt = time.ticks_diff(time.ticks_ms(), t0)
        ok(dt < 500, "news seen after %d ms" % dt)


async def test_run_rides_out_fleet_errors_with_backoff():
    r = Rig()
    dev = await r.up()
    await ctl(device_id=dev, fail=2)            # two 500s, then normal service
    seq = r.ob.append("heartbeat", {})
    t = asyncio.create_task(r.link.run())
    acked = await r.link.wait_acked(seq, 8000)
    t.cancel()
    ok(acked, "not acked")
    eq(r.link.last_error, "internal")
    eq(r.link.failing_ms(), 0)


async def test_run_without_fleet_never_raises():
    r = Rig(url="http://127.0.0.1:9")           # nothing listens there
    t = asyncio.create_task(r.link.run())
    await asyncio.sleep_ms(1500)
    ok(not t.done() if hasattr(t, "done") else True)
    t.cancel()
    ok(not r.link.online)
    ok(r.link.failing_ms() > 0)
    ok(r.link.last_error)


async def test_refused_event_is_isolated_and_replaced():
    r = Rig()
    dev = await r.up()
    await ctl(device_id=dev, refuse_type="telemetry")
    r.ob.append("heartbeat", {})
    r.ob.append("telemetry", {"x": 1})
    r.ob.append("heartbeat", {})
    t = asyncio.create_task(r.link.run())
    ok(await r.link.wait_acked(3, 8000))
    t.cancel()
    evs = (await state(dev))["events"]
    eq([e["type"] for e in evs], ["heartbeat", "error", "heartbeat"])
    eq(evs[1]["data"]["where"], "outbox")


async def test_keepalive_connection_is_reused():
    r = Rig()
    await r.up()
    for i in range(3):
        r.ob.append("heartbeat", {})
        await r.link.send_events()
    ok(r.link.conn.requests >= 4, "requests on one connection: %d" % r.link.conn.requests)


async def test_a_paused_link_holds_no_connection_and_sends_after_resume():
    # an update boot's download: no second TLS connection beside it (docs/ota.md)
    r = Rig()
    dev = await r.up()
    t = asyncio.create_task(r.link.run())
    ok(await r.link.wait_acked(r.ob.append("heartbeat", {}), 8000))
    ok(r.link.conn.w is not None, "kept alive after the exchange")
    await r.link.pause()
    ok(r.link.conn.w is None, "the connection is closed while paused")
    seq = r.ob.append("heartbeat", {})
    r.link.kick()
    await asyncio.sleep_ms(500)
    eq(r.ob.ack, seq - 1)                       # kept in the outbox, not sent
    ok(r.link.conn.w is None)
    r.link.resume()
    ok(await r.link.wait_acked(seq, 8000), "sent after resume")
    t.cancel()
    eq(len((await state(dev))["events"]), 2)


async def test_bad_token_is_reported_not_raised_from_run():
    r = Rig(token="et_bad")
    t = asyncio.create_task(r.link.run())
    await asyncio.sleep_ms(500)
    t.cancel()
    eq(r.link.last_error, "token_invalid")
    ok(not r.cfg.enrolled())
    ok(r.link.online)                            # the fleet answered; it said no


async def test_revoked_stops_the_link():
    r = Rig()
    dev = await r.up()
    await ctl(device_id=dev, revoked=True)
    r.ob.append("heartbeat", {})
    t = asyncio.create_task(r.link.run())
    await asyncio.sleep_ms(500)
    t.cancel()
    eq(r.link.stopped, "revoked")
    ok(r.link.failing_ms() > 10 ** 6)
    eq(r.ob.pending(), 1)                        # kept: never silently lost


mptest.main(globals())
