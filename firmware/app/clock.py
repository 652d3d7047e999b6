# Clock: the board's system clock (machine.RTC), set from the fleet's signed time.
# On the ESP32, time.time() counts from 2000-01-01 (the port's epoch) and mbedTLS checks
# certificate dates against that same clock + 946684800 (ports/esp32/main.c,
# platform_mbedtls_time; machine_rtc.c sets it with settimeofday): setting the RTC is what
# lets a board verify the fleet's certificate. The clock keeps counting through deep sleep
# and resets and starts again at 2000 after a power cut; RTC memory (lost with it) says
# whether it was set from signed time since ("tsync").
# Time is whole seconds plus milliseconds, integers only: an ESP32 float (single precision)
# holds an epoch time to 128 s.
import time
import devproto
import log

EPOCH = 946684800 if time.gmtime(0)[0] == 2000 else 0   # Unix seconds at the port's epoch


class Clock:
    def __init__(self, rtc=None):
        self._mem = rtc             # RtcMem or None
        self.synced = rtc is not None and rtc.get("tsync") is True

    def raw(self):
        """Seconds of the board's own clock (schedules count in these)."""
        return int(time.time())

    def now(self):
        """Unix time, integer seconds."""
        return int(time.time()) + EPOCH

    def valid(self):
        return self.synced

    def set(self, stamp):
        """Adopt a signed X-Server-Time ('1796031157.980'). Returns the step in seconds."""
        parts = devproto.parse_server_time(stamp)
        if parts is None:
            return 0
        step = parts[0] - self.now()
        if self.synced and -1 <= step <= 1:
            return 0                # within the second: leave the clock alone
        self._write(parts[0], parts[1])
        if not self.synced:
            self.synced = True
            if self._mem is not None:
                self._mem.set("tsync", True)
        if step > 2 or step < -2:
            log.i("clock", "set from signed fleet time, step %d s" % step)
        return step

    def floor(self, unix):
        """Before any signed time: never run below `unix` (the pinned CA's notBefore), so a
        board that lost power can verify the fleet's certificate and ask for the time."""
        if not self.synced and self.now() < unix:
            self._write(unix, 0)
            log.i("clock", "not set since power-on: raised to the CA certificate's start")

    def _write(self, unix, ms):
        from machine import RTC
        step = unix - self.now()
        t = time.gmtime(unix - EPOCH)
        RTC().datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], ms * 1000))
        # Schedules (supervisor.due) hold board seconds: they move with the clock.
        sch = self._mem.get("sch") if self._mem is not None else None
        if sch:
            self._mem.set("sch", dict((k, sch[k] + step) for k in sch))
