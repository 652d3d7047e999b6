# The ESP32's RTC: its memory and its clock.
# RtcMem: a small key/value store in RTC memory (machine.RTC().memory()): survives deep
# sleep and soft/WDT resets, lost on power-on. Used for the Wi-Fi channel/BSSID cache,
# whether the clock was set, the downlink cursor, the fleet's address, schedules and role
# state across deep sleep. Stored as b"RT1" + JSON; ESP32 gives 2048 bytes. Writes go to
# RAM: no flash wear.
# Clock: the board's system clock (machine.RTC), set from the fleet's signed time.
# time.time() counts from 2000-01-01 (the ESP32 port's epoch) and mbedTLS checks
# certificate dates against that same clock + 946684800 (ports/esp32/main.c,
# platform_mbedtls_time; machine_rtc.c sets it with settimeofday): setting the RTC is what
# lets a board verify the fleet's certificate. The clock keeps counting through deep sleep
# and resets and starts again at 2000 after a power cut; RTC memory (lost with it) says
# whether it was set from signed time since ("clock"). Time is whole seconds plus
# milliseconds, integers only: an ESP32 float (single precision) holds an epoch time to 128 s.
import json
import time
import devproto
import log
from micropython import const

_MAGIC = const(b"RT1")
_LIMIT = const(2000)
_EPOCH = const(946684800)   # Unix seconds at 2000-01-01, the ESP32 port's time epoch


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
        # An equal value is not written again - unless it is the very object held: a role's
        # state dict changed in place cannot be compared with its old self.
        old = self.data.get(key)
        if key in self.data and old == value and not (old is value and isinstance(value, (dict, list))):
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
        self.rtc = rtc              # RtcMem or None
        self.synced = rtc is not None and rtc.get("clock") is True

    def raw(self):
        """Seconds of the board's own clock (schedules count in these)."""
        return int(time.time())

    def now(self):
        """Unix time, integer seconds."""
        return int(time.time()) + _EPOCH

    def set(self, t):
        """Adopt a signed X-Server-Time ('1796031157.980'). Returns the step in seconds."""
        parts = devproto.parse_server_time(t)
        if parts is None:
            return 0
        step = parts[0] - self.now()
        if self.synced and -1 <= step <= 1:
            return 0                # within the second: leave the clock alone
        self.write(parts[0], parts[1])
        if not self.synced:
            self.synced = True
            if self.rtc is not None:
                self.rtc.set("clock", True)
        if step > 2 or step < -2:
            log.i("clock", "set from signed fleet time, step %d s" % step)
        return step

    def write(self, t, ms):
        """Set the RTC to Unix time t (seconds) + ms milliseconds."""
        from machine import RTC
        step = t - self.now()
        d = time.gmtime(t - _EPOCH)
        RTC().datetime((d[0], d[1], d[2], d[6], d[3], d[4], d[5], ms * 1000))
        # Schedules (supervisor.due) hold board seconds: they move with the clock.
        sch = self.rtc.get("sch") if self.rtc is not None else None
        if sch:
            self.rtc.set("sch", dict((k, sch[k] + step) for k in sch))
