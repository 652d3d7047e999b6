# Wi-Fi station supervisor: one task that keeps the link up and never blocks the loop.
# - first tries the access point cached in RTC memory (BSSID and channel): on a
#   board this is the ~1 s reconnect after deep sleep;
# - if that fails, forgets the cache and connects by SSID (the Wi-Fi driver scans all
#   channels itself, asynchronously);
# - after a connect by SSID it learns the channel and, when the runtime says it is
#   idle, the BSSID with one scan (wifiscan.py; wlan.scan() blocks ~1-2 s on ESP32, so
#   never while a role holds the device awake);
# - retries with exponential backoff and jitter; `up` is an asyncio.Event others await.
import asyncio
import time
import binascii
import log
from backoff import Backoff

CACHED_MS = 6000
SCAN_MS = 15000


class Wifi:
    def __init__(self, ssid, password, rtc=None, wlan=None, busy=()):
        self.ssid = ssid
        self.password = password
        self.rtc = rtc
        self._wlan = wlan
        self.busy = busy              # non-empty while a blocking scan is not acceptable
                                      # (the runtime's stay-awake reasons)
        self.up = asyncio.Event()
        self.connects = 0
        self.connect_ms = None        # duration of the last successful connect
        self.cached = False           # last connect used the RTC cache
        self.wlan()                   # radio on now (and the network module loaded early)

    def wlan(self):
        if self._wlan is None:
            import network
            self._wlan = network.WLAN(network.STA_IF)
        if not self._wlan.active():
            self._wlan.active(True)
        return self._wlan

    def isconnected(self):
        try:
            return bool(self.wlan().isconnected())
        except OSError:
            return False

    def rssi(self):
        try:
            return int(self.wlan().status("rssi"))
        except Exception:
            return None

    async def run(self):
        bo = Backoff(1000, 300000)
        was_up = False
        while True:
            if self.isconnected():
                if not was_up:
                    was_up = True
                    self.up.set()
                await asyncio.sleep_ms(500)
                continue
            if was_up:
                was_up = False
                self.up.clear()
                log.w("wifi", "down")
            if await self._connect():
                bo.reset()
                was_up = True
                self.up.set()
            else:
                d = bo.next()
                try:
                    st = self.wlan().status()
                except Exception:
                    st = None
                log.w("wifi", "connect to %s failed (status %s), retry in %d ms" % (
                    self.ssid, st, d))
                await asyncio.sleep_ms(d)

    async def _wait(self, ms):
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < ms:
            if self.isconnected():
                return True
            await asyncio.sleep_ms(50)
        return False

    async def _connect(self):
        w = self.wlan()
        t0 = time.ticks_ms()
        cache = self.rtc.get("wifi") if self.rtc is not None else None
        cached = False
        if isinstance(cache, dict) and cache.get("b"):
            try:
                w.config(channel=cache.get("c"))
            except Exception:
                pass
            try:
                w.connect(self.ssid, self.password, bssid=binascii.unhexlify(cache["b"]))
                cached = await self._wait(CACHED_MS)
            except OSError as ex:
                log.w("wifi", "cached connect: %s" % ex)
            if not cached:
                log.w("wifi", "cached AP ch=%s not reachable, scanning" % cache.get("c"))
                self.rtc.delete("wifi")
                try:
                    w.disconnect()
                except OSError:
                    pass
        if not cached:
            try:
                w.connect(self.ssid, self.password)
            except OSError as ex:
                log.w("wifi", "connect: %s" % ex)
                return False
            if not await self._wait(SCAN_MS):
                try:
                    w.disconnect()
                except OSError:
                    pass
                return False
        self.connects += 1
        self.cached = cached
        self.connect_ms = time.ticks_diff(time.ticks_ms(), t0)
        log.i("wifi", "up rssi=%s cached=%d in %d ms" % (
            self.rssi(), 1 if cached else 0, self.connect_ms))
        if not cached and self.rtc is not None:
            import wifiscan                 # only after a connect without the cache
            wifiscan.learn(self, w)
        return True
