# The fleet's host name is resolved off the asyncio loop (resolve.py) and its address kept
# in RTC memory: a slow or dead DNS must not freeze the loop that drives a call button's
# light and tone, and a board that woke from deep sleep does not ask DNS again. The DNS
# server is faked at its boundary (resolve.getaddrinfo, FakeDns); the link, the HTTP
# client and the FakeFleet behind them are the real ones. MicroPython.
import os
import time
import binascii
import asyncio
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import config  # noqa: E402
import outbox  # noqa: E402
import link  # noqa: E402
import resolve  # noqa: E402
from httpc import HttpError  # noqa: E402
from rtcmem import Clock  # noqa: E402
from rtcmem import RtcMem  # noqa: E402
from fakectl import PORT  # noqa: E402
from loopwatch import LoopWatch  # noqa: E402
from fakedns import FakeDns  # noqa: E402

NAME = "fleet.district.test"


def rig(mem, token=None):
    ident = {"role": "smart_bin", "board": "virtual", "fleet_url": "http://%s:%d" % (NAME, PORT)}
    cfg = config.Config()
    if not cfg.enrolled():
        ident["enroll_token"] = token or ("et_" + binascii.hexlify(os.urandom(6)).decode())
        store.write_json("/config.json", ident)
        cfg = config.Config()
    clock = Clock(mem)
    ob = outbox.Outbox(clock=clock)
    hw = binascii.hexlify(os.urandom(6)).decode()

    def hello():
        return {"fw": "1.29.0", "app": "0.1.0", "slot": "a", "board": "virtual", "role": "smart_bin",
                "reset_cause": "power_on", "wake_reason": "none", "heap_free": 50000}
    return link.Link(cfg, ob, clock, hello, None, mem, None, None, "virtual", lambda: hw)


async def test_slow_dns_does_not_freeze_the_loop_and_the_address_is_kept():
    mem = RtcMem()
    dns = FakeDns(1500)
    watch = LoopWatch()
    lk = rig(mem)
    await lk.enroll()
    await lk.hello()
    worst = watch.stop()
    ok(lk.hello_ok)
    eq(dns.calls, 1)                                   # once, for both requests
    ok(worst < 250, "the loop stood still for %d ms during the lookup" % worst)
    eq(mem.get("host"), [NAME, "127.0.0.1"])


async def test_after_deep_sleep_a_dns_outage_changes_nothing():
    mem = RtcMem()
    FakeDns(0)
    first = rig(mem)
    await first.enroll()
    await first.hello()
    dead = FakeDns(3000, answer=None)                  # DNS is down from now on
    again = rig(RtcMem())                              # a wake: RTC memory kept, RAM lost
    t0 = time.ticks_ms()
    await again.hello()
    ok(again.hello_ok)
    eq(dead.calls, 0)
    ok(time.ticks_diff(time.ticks_ms(), t0) < 2000)


async def test_dns_outage_on_first_contact_fails_the_request_not_the_loop():
    FakeDns(2000, answer=None)
    watch = LoopWatch()
    lk = rig(RtcMem())
    try:
        await lk.enroll()
        ok(False, "enrolled without an address")
    except HttpError as ex:
        ok("DNS" in str(ex), str(ex))
    worst = watch.stop()
    ok(worst < 250, "the loop stood still for %d ms" % worst)
    ok(not lk.cfg.enrolled())


mptest.main(globals())
