# Push button: debounced presses, short press / long press, IRQ -> a counter only.
#
# The pin IRQ (soft IRQ on ESP32, scheduled) only counts edges; one task looks every 10 ms
# (the counter, and the level: an IRQ that never came is covered too), debounces and turns
# edges into events queued for the role, and wakes the role's get() at once (an Event the
# task sets; it also ends get()'s timeout, so no asyncio.wait_for):
#   ("down", 0)     press started (debounced)
#   ("long", ms)    still held when ms reached long_ms (once per press)
#   ("press", ms)   released before long_ms: a short press
#   ("up", ms)      released (after any press), with its duration
# A board woken from deep sleep by this button (woke=True) gets a "down" at boot:
# the press that woke it counts, its duration measured from boot (the time the chip
# took to boot is not known and not added). So does a button held when it is made.
# Edges from the moment it is made count, not only once its task runs: a role that
# makes it first thing at boot (startup.py) loses no press while the rest loads.
#
# A press is never lost to a busy interpreter. ESP32 pin IRQs are soft (ports/esp32/
# machine_pin.c machine_pin_isr_handler() only mp_sched_schedule()s the handler): while the
# VM is held in C (a TLS handshake's crypto, a flash erase) both edges of a short press are
# queued and run back to back afterwards, when the pin already reads released. The handler
# counts edges; two or more that came before the task could watch, with the pin released
# now, were a whole press the task did not see: it counts (duration unknown: 0). So does a
# press the task saw begin whose release came while the VM was held longer than the debounce
# time. So does a press that began while the task could not look for longer than the debounce
# time and ended just after it looked (its length before is unknown). One edge the task watched
# from before it came goes through the debounce as usual, so a glitch seen live is ignored.
# Trade-off for a call button: a pulse nobody watched may be a glitch (a cancellable false
# alarm); treating it as noise could drop an elder's press.
import asyncio
import time
from micropython import const

_DEBOUNCE_MS = const(20)  # the level must hold this long; contact bounce of a tactile switch
                          # is under ~10 ms, and every ms here is a ms of an elder's alarm
_POLL_MS = const(10)     # the task looks this often (get() too, while the task is not running)
_QUEUE = const(8)
# get() waits on an Event the task sets, not in asyncio.wait_for: a task waiting in wait_for
# holds ~900 bytes and makes them anew every wait (64-bit unix port); Event.wait() none.


class Button:
    def __init__(self, pin, active_low=True, long_ms=3000, woke=False, pull=True):
        if isinstance(pin, int):
            from machine import Pin
            pull_mode = (Pin.PULL_UP if active_low else Pin.PULL_DOWN) if pull else None
            pin = Pin(pin, Pin.IN, pull_mode)
        self.pin = pin
        self.active = 0 if active_low else 1
        self.long_ms = long_ms
        self._q = []
        self.pressed = False
        self.presses = 0
        self.missed = 0             # presses counted from edges the task could not watch
        self.t_down = None
        self._edges = 0             # IRQ handler calls so far (a small int: no allocation)
        self._blind = False         # the last debounce could not watch the pin throughout
        self._ev = asyncio.Event()  # set: an event queued, or get()'s timeout is over
        self._until = None          # when the waiting get() times out (ticks), or None
        self._running = False       # run() is watching (and so sets self._ev)
        self._nudged = False        # nudge(): the waiting get() returns None now
        try:
            from machine import Pin
            trig = Pin.IRQ_FALLING | Pin.IRQ_RISING
        except ImportError:
            trig = 3
        try:
            pin.irq(handler=self._irq, trigger=trig)
        except (AttributeError, OSError, TypeError):
            pass            # no IRQ on this pin: the task polls
        # True: a press counts at once (the wake press, or held now: it began before we
        # watched); None once run() began (a restarted run counts only new edges)
        self._woke = woke or self.raw()

    def _irq(self, p):
        self._edges += 1

    def raw(self):
        return self.pin.value() == self.active

    def _put(self, kind, ms):
        if len(self._q) >= _QUEUE:
            self._q.pop(0)
        self._q.append((kind, ms))
        self._ev.set()

    async def get(self, timeout_ms=None):
        """Next event (kind, ms), or None after timeout_ms (to within _POLL_MS)."""
        t0 = time.ticks_ms()
        while not self._q:
            if timeout_ms is not None and time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
                return None
            if self._running:
                self._until = None if timeout_ms is None else time.ticks_add(t0, timeout_ms)
                self._nudged = False
                self._ev.clear()
                await self._ev.wait()
                if self._nudged and not self._q:
                    return None
            else:
                await asyncio.sleep_ms(_POLL_MS)
        return self._q.pop(0)

    def nudge(self):
        """News for the role from elsewhere (the fleet answered): a waiting get() returns None
        now instead of at its timeout, so the role looks without waiting out its poll."""
        self._nudged = True
        self._ev.set()

    def _tick(self):
        """After each look at the pin: end a waiting get() whose timeout is over."""
        u = self._until
        if u is not None and time.ticks_diff(time.ticks_ms(), u) >= 0:
            self._until = None
            self._ev.set()

    def pending(self):
        return len(self._q)

    async def _stable(self):
        """Level after it held still for the debounce time. self._blind: meanwhile the task could
        not look for longer than the debounce time (the VM held in C), so what the pin did then
        was not watched."""
        lvl = self.raw()
        t = last = time.ticks_ms()
        self._blind = False
        while time.ticks_diff(time.ticks_ms(), t) < _DEBOUNCE_MS:
            await asyncio.sleep_ms(_POLL_MS // 2)
            self._tick()
            if time.ticks_diff(time.ticks_ms(), last) > _DEBOUNCE_MS:
                self._blind = True
            last = time.ticks_ms()
            now = self.raw()
            if now != lvl:
                lvl = now
                t = time.ticks_ms()
        return lvl

    def _unwatched(self):
        """A whole press that came and went while the task could not watch (see top)."""
        self.missed += 1
        self.presses += 1
        self._put("down", 0)
        self._put("press", 0)
        self._put("up", 0)

    async def run(self):
        self._running = True
        try:
            await self._watch()
        finally:                        # cancelled: a waiting get() goes back to polling
            self._running = False
            self._ev.set()

    async def _watch(self):
        # the first run counts edges since the button was made (see top); a restarted one
        # (after a crash) only new ones, not the presses it already handled
        woke = self._woke
        seen = self._edges if woke is None else 0
        self._woke = None
        look = time.ticks_ms()                  # the last time the task looked and saw nothing
        while True:
            if not self.pressed:
                if woke:
                    woke = False                # the press that woke the board counts
                else:
                    now = time.ticks_ms()
                    if not self.raw() and self._edges == seen:
                        look = now
                        await asyncio.sleep_ms(_POLL_MS)
                        self._tick()
                        continue                # nothing happened
                    edges = self._edges - seen      # edges queued before we could look
                    # the press began while the task could not look (the VM held in C longer
                    # than the debounce time): how long it lasted before now is not known
                    unseen = time.ticks_diff(now, look) > _DEBOUNCE_MS
                    if not await self._stable():
                        # a whole press the task did not watch: both edges queued before it
                        # looked; or it saw the press begin and then could not look until after
                        # the release (a TLS handshake longer than the press); or the press
                        # began unseen and ended as the task first saw it (HIL seed 90210: a
                        # 350 ms press during a handshake, released 5 ms after it ended)
                        if edges >= 2 or ((self._blind or unseen) and self._edges - seen >= 2):
                            self._unwatched()
                        seen = self._edges
                        look = time.ticks_ms()
                        continue
                seen = self._edges
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
                seen = self._edges              # the release and its bounces are done
                look = time.ticks_ms()
                continue
            await asyncio.sleep_ms(_POLL_MS)
            self._tick()
