# Wi-Fi station supervisor: one task that keeps the link up and never blocks the loop.
# - connects with connect(ssid, key, bssid=<cached>) when RTC memory holds the BSSID of
#   the access point a scan found strongest, else by SSID. There is no cached-channel
#   fast connect on the ESP32 port: connect() with arguments rebuilds the station config
#   from zero (ports/esp32/network_wlan.c network_wlan_connect), so a channel set before
#   with config(channel=) is lost and the driver scans every channel (~1-2 s). The BSSID
#   only makes it join that AP rather than the first one it hears with the SSID;
# - never calls connect() while the driver is connecting, or reconnecting on its own
#   after losing the AP (status() STAT_CONNECTING): esp_wifi_connect() then fails and the
#   port raises OSError("Wifi Internal Error"). It waits for the driver instead, and
#   disconnects before a connect of its own;
# - after a connect by SSID it learns the BSSID, when the runtime says it is idle, with
#   one scan (wifiscan.py; wlan.scan() blocks ~1-2 s on ESP32, so never while a role
#   holds the device awake);
# - retries with exponential backoff and jitter; `up` is an asyncio.Event others await.
import asyncio
import sys
import time
import binascii
import log
from micropython import const
from backoff import Backoff

CACHED_MS = 6000             # wait for the cached AP before forgetting it
SCAN_MS = 15000
_STAT_CONNECTING = const(1001)   # network.STAT_CONNECTING on the ESP32 port


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

    def _status(self, w):
        try:
            return w.status()
        except OSError:
            return None

    def _disconnect(self, w):
        try:
            w.disconnect()
        except OSError:
            pass

    async def _connect(self):
        w = self.wlan()
        t0 = time.ticks_ms()
        cached = False
        if self._status(w) == _STAT_CONNECTING:
            # the driver is (re)connecting by itself: a connect() now would raise
            if await self._wait(SCAN_MS):
                return self._up(w, t0, False)
            self._disconnect(w)
        cache = self.rtc.get("wifi") if self.rtc is not None else None
        if isinstance(cache, dict) and cache.get("b"):
            try:
                w.connect(self.ssid, self.password, bssid=binascii.unhexlify(cache["b"]))
                cached = await self._wait(CACHED_MS)
            except (OSError, ValueError) as ex:
                log.w("wifi", "cached connect: %s" % ex)
            if not cached:
                log.w("wifi", "cached AP %s not reachable, connecting by SSID" % cache["b"])
                self.rtc.delete("wifi")
                self._disconnect(w)
        if not cached:
            try:
                w.connect(self.ssid, self.password)
            except OSError as ex:
                log.w("wifi", "connect: %s" % ex)
                return False
            if not await self._wait(SCAN_MS):
                self._disconnect(w)
                return False
        return self._up(w, t0, cached)

    def _up(self, w, t0, cached):
        self.connects += 1
        self.cached = cached
        self.connect_ms = time.ticks_diff(time.ticks_ms(), t0)
        log.i("wifi", "up rssi=%s cached=%d in %d ms" % (
            self.rssi(), 1 if cached else 0, self.connect_ms))
        if not cached and self.rtc is not None and not (self.rtc.get("wifi") or {}).get("b"):
            import wifiscan                 # only after a connect without the cache
            wifiscan.learn(self, w)
            del wifiscan
            sys.modules.pop("wifiscan", None)   # once per power-on: not kept
        return True
