# RtcMem: a small key/value store in RTC memory (machine.RTC().memory()): survives deep
# sleep and soft/WDT resets, lost on power-on. Used for the Wi-Fi channel/BSSID cache,
# the clock offset, the downlink cursor, schedules and role state across deep sleep.
# Stored as b"RT1" + JSON; ESP32 gives 2048 bytes. Writes go to RAM: no flash wear.
#
# Clock: wall-clock time for a device without a set real-time clock: an offset from
# time.time() learned from the fleet's "time" in every response (protocol v1), kept in
# RTC memory so it survives deep sleep (the RTC keeps counting while asleep).
import json
import time
import devproto
import log
from micropython import const

_MAGIC = const(b"RT1")
_LIMIT = const(2000)


class RtcMem:
    def __init__(self, rtc=None):
        if rtc is None:
            try:
                from machine import RTC
                rtc = RTC()
            except ImportError:   # plain unix port without the virtual board's machine
                rtc = None
        self._rtc = rtc
        self.data = {}
        raw = b""
        if rtc is not None:
            try:
                raw = bytes(rtc.memory())
            except Exception:
                raw = b""
        if raw[:3] == _MAGIC:
            try:
                d = json.loads(raw[3:])
                if isinstance(d, dict):
                    self.data = d
            except ValueError:
                pass

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value):
        if self.data.get(key) == value and key in self.data:
            return
        self.data[key] = value
        self.save()

    def delete(self, key):
        if key in self.data:
            del self.data[key]
            self.save()

    def save(self):
        if self._rtc is None:
            return
        raw = _MAGIC + json.dumps(self.data).encode()
        if len(raw) > _LIMIT:
            log.w("rtcmem", "%d bytes > %d, not saved" % (len(raw), _LIMIT))
            return
        self._rtc.memory(raw)


class Clock:
    def __init__(self, rtc=None):
        self._rtc = rtc
        self.offset = 0
        self.synced = False
        if rtc is not None and rtc.get("toff") is not None:
            self.offset = rtc.get("toff")
            self.synced = True

    def raw(self):
        """Seconds of the board's own clock (keeps counting in deep sleep)."""
        return int(time.time())

    def now(self):
        """Best estimate of Unix time, integer seconds."""
        return int(time.time()) + self.offset

    def valid(self):
        return self.now() >= devproto.MIN_VALID_TIME

    def sync(self, t):
        """Adopt the server's time (float seconds). Returns the correction applied (s)."""
        try:
            st = float(t)
        except (TypeError, ValueError):
            return 0
        new = int(st - time.time() + 0.5)
        delta = new - self.offset
        if delta or not self.synced:
            self.offset = new
            self.synced = True
            if self._rtc is not None:
                self._rtc.set("toff", new)
            if delta > 2 or delta < -2:
                log.i("clock", "synced, corrected %d s" % delta)
        return delta
