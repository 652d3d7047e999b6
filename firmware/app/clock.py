# Wall-clock time for a device without a set real-time clock: an offset from
# time.time() learned from the fleet's "time" in every response (protocol v1), kept in
# RTC memory so it survives deep sleep (the RTC keeps counting while asleep).
import time
import devproto
import log


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

    def sync(self, server_time):
        """Adopt the server's time (float seconds). Returns the correction applied (s)."""
        try:
            st = float(server_time)
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
