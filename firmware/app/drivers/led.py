# Status LED with named, non-blocking blink patterns.
# A pattern is (steps, repeat): steps alternate on/off durations in ms starting with
# "on"; repeat is a count or None (until replaced). show() replaces the running
# pattern at once; a finite pattern ends with the LED off (or returns to the
# background pattern set with background()). busy() is True while a finite pattern
# plays, so the supervisor does not sleep in the middle of a signal.
import asyncio
from micropython import const

# name, on/off durations in ms starting with "on", "*n" = played n times (none: until
# replaced). One string, not a dict of tuples: a fraction of the heap.
_P = const("|off 0 1000 *1|on 1000 0|blink 500 500|fast 100 100"
      "|press 150 50 *2"                      # call button: the press was taken
      "|sending 100 900"                      # waiting for the fleet to store it
      "|not_delivered 100 100 100 700"
      "|received 600 200 600 200 *1"          # the fleet stored the alarm
      "|answered 3000 0 *1"                   # a caregiver acknowledged
      "|cancel 200 200 200 200 200 0 *1"      # call button: alarm cancelled
      "|nothing 80 0 *1"                      # call button: nothing to cancel
      "|identify 100 100 *50"                 # "identify" command: 10 s
      "|error 50 50 50 50 50 750 *3"
      "|unprovisioned 1000 1000|")


def pattern(name):
    """(steps, repeat) of a named pattern; blink for an unknown name."""
    i = _P.find("|" + name + " ")
    if i < 0:
        return pattern("blink")
    steps, repeat = [], None
    for f in _P[i + 1:_P.find("|", i + 1)].split()[1:]:
        if f.startswith("*"):          # (f[0] would intern a one-character qstr)
            repeat = int(f[1:])
        else:
            steps.append(int(f))
    return steps, repeat


class Led:
    def __init__(self, pin, active_low=False):
        if isinstance(pin, int):
            from machine import Pin
            pin = Pin(pin, Pin.OUT)
        self.pin = pin
        self.active_low = active_low
        self.state = False
        self.name = "off"
        self._task = None
        self._bg = None
        self._finite = False
        self.set(False)

    def set(self, on):
        self.state = bool(on)
        self.pin.value((not on) if self.active_low else (1 if on else 0))

    def off(self):
        self._bg = None
        self.show("off")

    def busy(self):
        return self._task is not None and self._finite

    def background(self, name):
        """Pattern to return to after a finite one (None: off)."""
        self._bg = name
        if self._task is None:
            self.show(name or "off")

    def show(self, name, steps=None, repeat=1):
        """Play a named pattern, or custom steps/repeat under that name."""
        if steps is None:
            steps, repeat = pattern(name)
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.name = name
        self._finite = repeat is not None
        if name == "off":
            self.set(False)
            return
        self._task = asyncio.create_task(self._play(steps, repeat))

    async def _play(self, steps, repeat):
        try:
            n = 0
            while repeat is None or n < repeat:
                on = True
                for ms in steps:
                    self.set(on)
                    if ms:
                        await asyncio.sleep_ms(ms)
                    on = not on
                n += 1
            self.set(False)
            self._task = None
            self.name = "off"
            if self._bg:
                self.show(self._bg, None, 1)
        except asyncio.CancelledError:
            pass
