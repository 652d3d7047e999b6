# FAKE machine module for firmware unit tests on the plain unix port: extends the
# built-in (umachine) with test doubles for the ESP32 hardware boundary (Pin with
# IRQ, ADC, PWM, I2C, RTC memory, WDT, deepsleep/reset, reset cause, wake reason,
# unique_id). Tests drive and inspect it through FAKE. It is not the virtual board
# (boards/virtual) -- just enough hardware for unit tests.
import os
import micropython
from umachine import *  # noqa: F401,F403  (time_pulse_us, Signal, idle ...)

PWRON_RESET = 1
HARD_RESET = 2          # ports/esp32/modmachine.c: MP_HARD_RESET (EN pin)


class FakeSleep(Exception):
    pass


class FakeReset(Exception):
    pass


class _State:
    def __init__(self):
        self.levels = {}        # pin id -> level
        self.irqs = {}          # pin id -> (handler, trigger, Pin)
        self.outputs = {}       # pin id -> list of values written
        self.adc_uv = {}        # pin id -> microvolts (or list to cycle through)
        self.adc_u16 = {}
        self.pwm = {}           # pin id -> list of (freq, duty)
        self.i2c = {}           # addr -> {reg: bytes, or a function returning them}
        self.echo_us = None     # time_pulse_us: an int, a list (one each call) or None (no echo)
        self.i2c_writes = []
        # The logs above (outputs, pwm, i2c_writes) grow with every write, after the heap gates
        # measured the harness: a board has no such logs. The gates turn them off
        # (FAKE_RECORD=0, heapgate.py); I2C writes are then kept once each (what was written,
        # not how often: a smart bin re-arms its motion interrupt every 100 ms while it waits).
        self.record = os.getenv("FAKE_RECORD") != "0"
        self.rtc = b""
        self.wdt = None         # (timeout, feeds)
        self.feeds = 0
        self.sleeps = []
        self.resets = 0
        self.reset_cause = int(os.getenv("FAKE_RESET_CAUSE") or PWRON_RESET)
        self.wake_reason = int(os.getenv("FAKE_WAKE") or 0)
        self.uid = b"\x24\x0a" + os.urandom(4)

    def set_level(self, pin, level):
        """Drive an input pin; fires its IRQ the way ESP32 does (soft IRQ, scheduled)."""
        old = self.levels.get(pin, 0)
        self.levels[pin] = level
        irq = self.irqs.get(pin)
        if irq is not None and old != level:
            handler, trig, p = irq
            if (level and trig & 1) or (not level and trig & 2):
                micropython.schedule(handler, p)


FAKE = _State()
_rtc_file = os.getenv("FAKE_RTC")
if _rtc_file:
    try:
        with open(_rtc_file, "rb") as f:
            FAKE.rtc = f.read()
    except OSError:
        pass


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        if pull == Pin.PULL_UP and id not in FAKE.levels:
            FAKE.levels[id] = 1
        if value is not None:
            self.value(value)

    def init(self, mode=-1, pull=-1, value=None):
        self.__init__(self.id, mode, pull, value)

    def value(self, v=None):
        if v is None:
            return FAKE.levels.get(self.id, 0)
        v = 1 if v else 0
        FAKE.levels[self.id] = v
        if FAKE.record:
            FAKE.outputs.setdefault(self.id, []).append(v)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, hard=False):
        FAKE.irqs[self.id] = (handler, trigger, self)


class ADC:
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.id = pin.id if isinstance(pin, Pin) else pin

    def read_uv(self):
        return FAKE.adc_uv.get(self.id, 0)

    def read_u16(self):
        return FAKE.adc_u16.get(self.id, 0)


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.id = pin.id
        self._f = freq
        self._d = duty_u16
        self._log()

    def _log(self):
        if FAKE.record:
            FAKE.pwm.setdefault(self.id, []).append((self._f, self._d))

    def freq(self, f=None):
        if f is None:
            return self._f
        self._f = f
        self._log()

    def duty_u16(self, d=None):
        if d is None:
            return self._d
        self._d = d
        self._log()

    def deinit(self):
        self._d = 0
        self._log()


class I2C:
    def __init__(self, id, scl=None, sda=None, freq=400000):
        pass

    def readfrom_mem(self, addr, reg, n, addrsize=8):
        dev = FAKE.i2c.get(addr)
        if dev is None:
            raise OSError(19)
        v = dev.get(reg, bytes(n))
        return bytes(v() if callable(v) else v)[:n]

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        if addr not in FAKE.i2c:
            raise OSError(19)
        w = (addr, reg, bytes(buf))
        if FAKE.record or w not in FAKE.i2c_writes:
            FAKE.i2c_writes.append(w)

    def scan(self):
        return sorted(FAKE.i2c)


class RTC:
    def datetime(self, dt=None):
        """ESP32 order: (year, month, day, weekday, hours, minutes, seconds, microseconds)."""
        import time
        if dt is None:
            t = time.gmtime()
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        if len(dt) != 8:
            raise ValueError("requested length 8 but object has length %d" % len(dt))
        board = time.mktime((dt[0], dt[1], dt[2], dt[4], dt[5], dt[6], 0, 0))
        time.OFF[0] = board * 1000000000 + dt[7] * 1000 - time.utime.time_ns()

    def memory(self, data=None):
        if data is None:
            return FAKE.rtc
        FAKE.rtc = bytes(data)
        if _rtc_file:
            with open(_rtc_file, "wb") as f:
                f.write(FAKE.rtc)


class WDT:
    def __init__(self, id=0, timeout=5000):
        FAKE.wdt = timeout

    def feed(self):
        FAKE.feeds += 1


def time_pulse_us(pin, level, timeout_us=1000000):
    """The echo pulse FAKE.echo_us says (-1: none within the timeout, as the port's)."""
    v = FAKE.echo_us
    if isinstance(v, list):
        v = v.pop(0) if len(v) > 1 else v[0]
    return -1 if v is None else v


def reset_cause():
    return FAKE.reset_cause


def wake_reason():
    return FAKE.wake_reason


def unique_id():
    return FAKE.uid


def deepsleep(ms=None):
    FAKE.sleeps.append(ms)
    raise FakeSleep(ms)


def reset():
    FAKE.resets += 1
    raise FakeReset()
