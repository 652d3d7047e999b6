# Wi-Fi supervisor on the FAKE network module (tests/firmware/mp/fakehw/network.py):
# cached BSSID/channel, fallback, backoff, never blocking the loop. MicroPython.
import time
import asyncio
import mptest
from mptest import eq, ok

mptest.setup_root()
import network  # noqa: E402  (FAKE)
import rtcmem  # noqa: E402
import wifi  # noqa: E402

wifi.CACHED_MS = 400
wifi.SCAN_MS = 600
AP = ("lab", b"\x11\x22\x33\x44\x55\x66", 6, -60, "pw")


class FakeRTC:
    def __init__(self):
        self.mem = b""

    def memory(self, data=None):
        if data is None:
            return self.mem
        self.mem = bytes(data)


class Ticker:
    """Measures the longest gap between loop turns while Wi-Fi works."""

    def __init__(self):
        self.worst = 0
        self.run = True

    async def go(self):
        last = time.ticks_ms()
        while self.run:
            await asyncio.sleep_ms(10)
            now = time.ticks_ms()
            self.worst = max(self.worst, time.ticks_diff(now, last))
            last = now


def _reset(aps=(AP,)):
    network.APS[:] = list(aps)
    del network.calls[:]
    network.WLAN().disconnect()
    del network.calls[:]


async def _up(w, ms=3000):
    try:
        await asyncio.wait_for_ms(w.up.wait(), ms)
        return True
    except asyncio.TimeoutError:
        return False


async def test_first_connect_learns_cache_next_wake_uses_it():
    _reset()
    rtc = rtcmem.RtcMem(FakeRTC())
    w = wifi.Wifi("lab", "pw", rtc)
    t = asyncio.create_task(w.run())
    ok(await _up(w))
    t.cancel()
    eq(network.calls[0], ("connect", "lab", None))
    eq(rtc.get("wifi"), {"b": "112233445566"})
    ok(not w.cached)
    # next wake: RTC memory kept, radio off
    _reset()
    w2 = wifi.Wifi("lab", "pw", rtcmem.RtcMem(rtc._rtc))
    t = asyncio.create_task(w2.run())
    ok(await _up(w2))
    t.cancel()
    eq(network.calls[0], ("connect", "lab", AP[1]))
    ok(w2.cached)
    # no config(channel=): connect(ssid, key, ...) resets it on the ESP32 port
    eq([c for c in network.calls if c[0] == "config"], [])


async def test_cached_ap_gone_falls_back_to_ssid():
    _reset()
    rtc = rtcmem.RtcMem(FakeRTC())
    rtc.set("wifi", {"b": "aabbccddeeff", "c": 11})     # the AP was replaced
    w = wifi.Wifi("lab", "pw", rtc)
    t = asyncio.create_task(w.run())
    ok(await _up(w, 4000))
    t.cancel()
    kinds = [c[2] if c[0] == "connect" else c[0] for c in network.calls]
    eq(kinds[:3], [b"\xaa\xbb\xcc\xdd\xee\xff", "disconnect", None])
    eq(rtc.get("wifi"), {"b": "112233445566"})


async def test_no_ap_backs_off_without_blocking_the_loop():
    _reset(())
    w = wifi.Wifi("lab", "pw", rtcmem.RtcMem(FakeRTC()))
    tick = Ticker()
    tt = asyncio.create_task(tick.go())
    t = asyncio.create_task(w.run())
    await asyncio.sleep_ms(2500)
    n = len([c for c in network.calls if c[0] == "connect"])
    ok(1 <= n <= 3, "attempts %d: backoff between them" % n)
    ok(not w.up.is_set())
    ok(tick.worst < 200, "loop blocked for %d ms" % tick.worst)
    network.APS[:] = [AP]                  # the access point comes back
    ok(await _up(w, 6000))
    t.cancel()
    tick.run = False


async def test_no_blocking_scan_while_a_role_is_busy():
    _reset()
    rtc = rtcmem.RtcMem(FakeRTC())
    s0 = network.scans
    w = wifi.Wifi("lab", "pw", rtc, busy={"alarm"})
    t = asyncio.create_task(w.run())
    ok(await _up(w))
    t.cancel()
    eq(network.scans, s0)
    eq(rtc.get("wifi"), None)


async def test_link_loss_detected_and_recovered():
    _reset()
    w = wifi.Wifi("lab", "pw", rtcmem.RtcMem(FakeRTC()))
    t = asyncio.create_task(w.run())
    ok(await _up(w))
    network.APS[:] = []                    # AP switched off
    await asyncio.sleep_ms(800)
    ok(not w.up.is_set(), "down noticed")
    network.APS[:] = [AP]
    ok(await _up(w, 5000))
    t.cancel()
    ok(w.connects >= 2)
    # the driver reconnected by itself: the supervisor never called connect() meanwhile
    # (on the ESP32 port that raises OSError("Wifi Internal Error"))
    eq([c for c in network.calls if c[0] == "connect-refused"], [])


async def test_reconnect_waits_for_the_driver_then_starts_anew():
    _reset()
    w = wifi.Wifi("lab", "pw", rtcmem.RtcMem(FakeRTC()))
    t = asyncio.create_task(w.run())
    ok(await _up(w))
    wifi.SCAN_MS = 450                     # the driver gets this long before a fresh connect
    try:
        network.APS[:] = []
        await asyncio.sleep_ms(1500)
        network.APS[:] = [AP]
        ok(await _up(w, 5000))
    finally:
        wifi.SCAN_MS = 600
        t.cancel()
    eq([c for c in network.calls if c[0] == "connect-refused"], [])
    kinds = [c[0] for c in network.calls]
    ok("disconnect" in kinds and kinds.index("disconnect") < len(kinds) - 1, kinds)


mptest.main(globals())
