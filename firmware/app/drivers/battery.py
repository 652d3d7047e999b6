# Battery voltage through a resistor divider on an ADC pin:
#   Vbat = Vadc * divider   (board.json "battery_divider", e.g. 2.0 for 100k/100k)
# ADC.read_uv() gives calibrated microvolts on ESP32; N samples are averaged after
# dropping the lowest and highest.


def volts(samples, divider):
    """Battery volts from ADC microvolt samples (trimmed mean) and the divider ratio."""
    s = sorted(samples)
    if len(s) >= 4:
        s = s[1:-1]
    if not s:
        return None
    return sum(s) / len(s) / 1e6 * divider


def fraction(v, lo, hi):
    """Linear state of charge 0..1 between lo (empty) and hi (full) volts (a rough estimate)."""
    if v is None or hi <= lo:
        return None
    return max(0.0, min(1.0, (v - lo) / (hi - lo)))


class Battery:
    def __init__(self, pin, divider=2.0, samples=8, adc=None):
        if adc is None:
            from machine import ADC, Pin
            adc = ADC(Pin(pin), atten=ADC.ATTN_11DB)      # full range ~0.15-2.45 V
        self.adc = adc
        self.divider = divider
        self.samples = samples
        self.last = None

    def read(self):
        """Battery voltage in volts (3 decimals)."""
        v = volts([self.adc.read_uv() for _ in range(self.samples)], self.divider)
        self.last = None if v is None else round(v, 3)
        return self.last
