# Push button: debounced presses, short press / long press, IRQ -> flag only.
#
# The pin IRQ (soft IRQ on ESP32, scheduled) only sets an asyncio.ThreadSafeFlag; one
# task debounces and turns edges into events queued for the role:
#   ("down", 0)     press started (debounced)
#   ("long", ms)    still held when ms reached long_ms (once per press)
#   ("press", ms)   released before long_ms: a short press
#   ("up", ms)      released (after any press), with its duration
# A board woken from deep sleep by this button (woke=True) gets a "down" at boot:
# the press that woke it counts, its duration measured from boot (the time the chip
# took to boot is not known and not added).
import asyncio
import time
from micropython import const

_DEBOUNCE_MS = const(30)
_POLL_MS = const(10)
_QUEUE = const(8)


class Button:
    def __init__(self, pin, active_low=True, long_ms=3000, woke=False, pull=True):
        if isinstance(pin, int):
            from machine import Pin
            pull_mode = (Pin.PULL_UP if active_low else Pin.PULL_DOWN) if pull else None
            pin = Pin(pin, Pin.IN, pull_mode)
        self.pin = pin
        self.active = 0 if active_low else 1
        self.long_ms = long_ms
        self._woke = woke
        self._flag = asyncio.ThreadSafeFlag()
        self._q = []
        self._qev = asyncio.Event()
        self.pressed = False
        self.presses = 0
        self.t_down = None
        try:
            from machine import Pin
            trig = Pin.IRQ_FALLING | Pin.IRQ_RISING
        except ImportError:
            trig = 3
        try:
            pin.irq(handler=self._irq, trigger=trig)
        except (AttributeError, OSError, TypeError):
            pass            # no IRQ on this pin: the task polls

    def _irq(self, p):
        self._flag.set()

    def raw(self):
        return self.pin.value() == self.active

    def _put(self, kind, ms):
        if len(self._q) >= _QUEUE:
            self._q.pop(0)
        self._q.append((kind, ms))
        self._qev.set()

    async def get(self, timeout_ms=None):
        """Next event (kind, ms), or None after timeout_ms."""
        while not self._q:
            self._qev.clear()
            if timeout_ms is None:
                await self._qev.wait()
            else:
                try:
                    await asyncio.wait_for_ms(self._qev.wait(), timeout_ms)
                except asyncio.TimeoutError:
                    return None
        return self._q.pop(0)

    def pending(self):
        return len(self._q)

    async def _stable(self):
        """Level after it held still for the debounce time."""
        lvl = self.raw()
        t = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t) < _DEBOUNCE_MS:
            await asyncio.sleep_ms(_POLL_MS // 2)
            now = self.raw()
            if now != lvl:
                lvl = now
                t = time.ticks_ms()
        return lvl

    async def run(self):
        while True:
            if not self.pressed:
                if self._woke:
                    self._woke = False          # the press that woke the board counts
                else:
                    try:
                        await asyncio.wait_for_ms(self._flag.wait(), 200)
                    except asyncio.TimeoutError:
                        if not self.raw():
                            continue    # nothing happened (the timeout covers lost IRQs)
                    if not await self._stable():
                        continue
                self.pressed = True
                self.long_sent = False
                self.t_down = time.ticks_ms()
                self._put("down", 0)
            # held
            held = time.ticks_diff(time.ticks_ms(), self.t_down)
            if not self.long_sent and held >= self.long_ms:
                self.long_sent = True
                self._put("long", held)
            if not self.raw() and not await self._stable():
                held = time.ticks_diff(time.ticks_ms(), self.t_down)
                self.pressed = False
                self.presses += 1
                if not self.long_sent:
                    self._put("press", held)
                self._put("up", held)
                continue
            await asyncio.sleep_ms(_POLL_MS)
