# HC-SR04 / JSN-SR04T ultrasonic distance: a 10 us trigger pulse, the echo pulse
# width measured with machine.time_pulse_us, the median of N echoes, speed of sound
# compensated for air temperature (331.3 + 0.606 * T m/s). Readings inside the
# blind zone (JSN-SR04T: ~23-25 cm; HC-SR04: ~2 cm) are reported "too_close"; no
# echo within the timeout is "timeout" (distance None).
import asyncio
import time

# Blind zone by sensor model (board.json "ultrasonic"); "us_blind_cm" overrides.
BLIND_CM = {"jsn-sr04t": 25.0, "hc-sr04": 2.0}


def speed_of_sound(temp_c):
    """m/s in air at temp_c degrees Celsius."""
    return 331.3 + 0.606 * temp_c


def echo_to_cm(echo_us, temp_c=20.0):
    """Distance to the target for a round-trip echo of echo_us microseconds."""
    return echo_us * speed_of_sound(temp_c) * 1e-4 / 2


def median(values):
    v = sorted(values)
    n = len(v)
    if n == 0:
        return None
    if n % 2:
        return v[n // 2]
    return (v[n // 2 - 1] + v[n // 2]) / 2


class Ultrasonic:
    def __init__(self, trig, echo, blind_cm=25.0, max_cm=450.0, pulse=None):
        if isinstance(trig, int) or isinstance(echo, int):
            from machine import Pin
            if isinstance(trig, int):
                trig = Pin(trig, Pin.OUT, value=0)
            if isinstance(echo, int):
                echo = Pin(echo, Pin.IN)
        self.trig = trig
        self.echo = echo
        self.blind_cm = blind_cm
        self.max_cm = max_cm
        if pulse is None:
            from machine import time_pulse_us
            pulse = time_pulse_us
        self._pulse = pulse
        # round trip to max_cm at -20 C, plus margin
        self.timeout_us = int(2 * max_cm / (speed_of_sound(-20) * 1e-4)) + 2000

    def ping_us(self):
        """One measurement: echo pulse width in us, or None (no echo)."""
        self.trig.value(0)
        time.sleep_us(2)
        self.trig.value(1)
        time.sleep_us(10)
        self.trig.value(0)
        t = self._pulse(self.echo, 1, self.timeout_us)
        return t if t > 0 else None

    async def measure(self, n=5, temp_c=20.0, gap_ms=60):
        """(distance_cm or None, status) from the median of n echoes.

        status: "ok", "too_close" (inside the blind zone; distance is the raw
        median), "timeout" (no echo at all) or "out_of_range" (beyond max_cm)."""
        samples = []
        for i in range(n):
            us = self.ping_us()
            if us is not None:
                samples.append(echo_to_cm(us, temp_c))
            if i < n - 1:
                await asyncio.sleep_ms(gap_ms)     # let the previous echo die out
        return self.judge(samples)

    async def echoes_mm(self, n, temp_c10, gap_ms=60):
        """n readings in mm (None: no echo), integers only: the speed of sound in tenths
        of m/s is 3313 + 0.606 * T, and mm = us * c10 / 20000 (< 2^30 up to 38 ms)."""
        c10 = 3313 + 606 * temp_c10 // 1000
        out = []
        for i in range(n):
            us = self.ping_us()
            out.append(None if us is None else us * c10 // 20000)
            if i < n - 1:
                await asyncio.sleep_ms(gap_ms)     # let the previous echo die out
        return out

    def judge(self, samples):
        if not samples:
            return None, "timeout"
        d = median(samples)
        if d < self.blind_cm:
            return d, "too_close"
        if d > self.max_cm:
            return None, "out_of_range"
        return d, "ok"


def from_board(board):
    """The board's ultrasonic sensor (pins.us_trig, pins.us_echo), or None."""
    t, e = board.pin("us_trig"), board.pin("us_echo")
    if t is None or e is None:
        return None
    blind = board.get("us_blind_cm", BLIND_CM.get(board.get("ultrasonic"), 25.0))
    return Ultrasonic(t, e, blind, board.get("us_max_cm", 450.0))
