# The facility beacon's rules (docs/facilities.md), plain and small so each can be tested alone
# on MicroPython: a manhole cover's tilt and a streetlight's lamp against its schedule.
# roles/beacon.py feeds them readings and emits what they say. (The manhole board's battery
# model is beaconpower.py: the docs' and tests' arithmetic, never loaded on a board.)
import time
from micropython import const

_HYST_DEG = const(2)            # a cover counts as closed again this far below tilt_deg


class Tilt:
    """cover_open once the angle from the installed position reaches tilt_deg (at once: a danger
    to people), cover_closed when it is back below tilt_deg - 2 degrees (no chatter at the edge)."""

    def __init__(self, tilt_deg, is_open=False):
        self.tilt_deg = tilt_deg
        self.open = is_open

    def step(self, angle):
        if angle is None:
            return None
        if not self.open and angle >= self.tilt_deg:
            self.open = True
            return "cover_open"
        if self.open and angle < self.tilt_deg - _HYST_DEG:
            self.open = False
            return "cover_closed"
        return None


class Lamp:
    """A streetlight against its schedule: `lamp_fault` when it should be lit and is not,
    `day_burning` when it should be off and is lit, each only after it has lasted debounce_s
    (a passing car's lights, a cloud, the minutes around dusk); `lamp_ok` when it is right again
    for as long. Whether the lamp is lit comes from a current sensor when the board has one, else
    from the light sensor (then day_burning cannot be told from daylight and is never raised)."""

    def __init__(self, debounce_s, state=None):
        self.debounce_s = debounce_s
        self.state = state              # None (ok), "lamp_fault" or "day_burning"
        self._cand = state
        self._since = None

    def step(self, now_ms, should_on, lit, current_known=True):
        """now_ms: time.ticks_ms() (compared with ticks_diff: it wraps every 2^30 ms on the chip)."""
        if should_on and not lit:
            cand = "lamp_fault"
        elif not should_on and lit and current_known:
            cand = "day_burning"
        else:
            cand = None
        if cand == self.state:
            self._cand, self._since = cand, None
            return None
        if cand != self._cand or self._since is None:
            self._cand, self._since = cand, now_ms
            return None
        if time.ticks_diff(now_ms, self._since) < self.debounce_s * 1000:
            return None
        self.state, self._since = cand, None
        return cand or "lamp_ok"
