# Wi-Fi station supervisor: one task that keeps the link up and never blocks the loop.
# - first tries the access point cached in RTC memory (BSSID and channel): on a
#   board this is the ~1 s reconnect after deep sleep;
# - if that fails, forgets the cache and connects by SSID (the Wi-Fi driver scans all
#   channels itself, asynchronously);
# - after a connect by SSID it learns the channel and, when the runtime says it is
#   idle, the BSSID with one scan (wlan.scan() blocks ~1-2 s on ESP32, so never while
#   a role holds the device awake);
# - retries with exponential backoff and jitter; `up` is an asyncio.Event others await.
import asyncio
import time
import binascii
import log
from backoff import Backoff

CACHED_MS = 6000
SCAN_MS = 15000


class Wifi:
    def __init__(self, ssid, password, rtc=None, wlan=None, idle=None):
        self.ssid = ssid
        self.password = password
        self.rtc = rtc
        self._wlan = wlan
        self.idle = idle              # callable -> True when a blocking scan is acceptable
        self.up = asyncio.Event()
        self.connects = 0
        self.connect_ms = None        # duration of the last successful connect
        self.cached = False           # last connect used the RTC cache

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

    def ip(self):
        try:
            return self.wlan().ifconfig()[0]
        except Exception:
            return "?"

    async def wait_up(self):
        if self.isconnected():
            return
        await self.up.wait()

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
                log.w("wifi", "connect to %s failed (status %s), retry in %d ms" % (
                    self.ssid, self._status(), d))
                await asyncio.sleep_ms(d)

    def _status(self):
        try:
            return self.wlan().status()
        except Exception:
            return None

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
        if isinstance(cache, dict) and cache.get("b"):
            try:
                w.config(channel=cache.get("c"))
            except Exception:
                pass
            try:
                w.connect(self.ssid, self.password, bssid=binascii.unhexlify(cache["b"]))
                if await self._wait(CACHED_MS):
                    self._ok(t0, True)
                    return True
            except OSError as ex:
                log.w("wifi", "cached connect: %s" % ex)
            log.w("wifi", "cached AP ch=%s not reachable, scanning" % cache.get("c"))
            self.rtc.delete("wifi")
            self._disconnect(w)
        try:
            w.connect(self.ssid, self.password)
        except OSError as ex:
            log.w("wifi", "connect: %s" % ex)
            return False
        if await self._wait(SCAN_MS):
            self._ok(t0, False)
            self._learn(w)
            return True
        self._disconnect(w)
        return False

    @staticmethod
    def _disconnect(w):
        try:
            w.disconnect()
        except OSError:
            pass

    def _ok(self, t0, cached):
        self.connects += 1
        self.cached = cached
        self.connect_ms = time.ticks_diff(time.ticks_ms(), t0)
        log.i("wifi", "up ip=%s rssi=%s cached=%d in %d ms" % (
            self.ip(), self.rssi(), 1 if cached else 0, self.connect_ms))

    def _learn(self, w):
        if self.rtc is None:
            return
        try:
            ch = w.config("channel")
        except Exception:
            ch = None
        bssid = None
        if self.idle is None or self.idle():
            try:
                best = None
                for ap in w.scan():          # (ssid, bssid, channel, rssi, security, hidden)
                    name = ap[0].decode() if isinstance(ap[0], bytes) else ap[0]
                    if name == self.ssid and (ch is None or ap[2] == ch):
                        if best is None or ap[3] > best[3]:
                            best = ap
                if best is not None:
                    bssid = binascii.hexlify(best[1]).decode()
                    ch = best[2]
            except Exception as ex:
                log.w("wifi", "scan: %s" % ex)
        if bssid:
            self.rtc.set("wifi", {"b": bssid, "c": ch})
            log.i("wifi", "cached bssid=%s ch=%s" % (bssid, ch))
