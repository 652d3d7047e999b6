# RtcMem: a small key/value store in RTC memory (machine.RTC().memory()): survives deep
# sleep and soft/WDT resets, lost on power-on. Used for the Wi-Fi channel/BSSID cache,
# whether the clock was set (clock.py), the downlink cursor, the fleet's address,
# schedules and role state across deep sleep.
# Stored as b"RT1" + JSON; ESP32 gives 2048 bytes. Writes go to RAM: no flash wear.
import json
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
