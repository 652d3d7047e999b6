# Light sensor (LDR or phototransistor in a divider) on an ADC pin.
# level(): 0..1 relative brightness (averaged read_u16, inverted if the sensor pulls
# the pin low in light: board.json "light_invert"); lux(): a rough linear estimate
# with board.json "light_lux_fs" as the full-scale lux (default 1000). Good enough to
# tell day from night and a lit streetlight from a dark one, not a lux meter.


def level_from(u16_samples, invert=False):
    if not u16_samples:
        return None
    v = sum(u16_samples) / len(u16_samples) / 65535
    return 1.0 - v if invert else v


class Light:
    def __init__(self, pin, invert=False, lux_fs=1000.0, samples=8, adc=None):
        if adc is None:
            from machine import ADC, Pin
            adc = ADC(Pin(pin), atten=ADC.ATTN_11DB)
        self.adc = adc
        self.invert = invert
        self.lux_fs = lux_fs
        self.samples = samples

    def level(self):
        return level_from([self.adc.read_u16() for _ in range(self.samples)], self.invert)

    def lux(self):
        lv = self.level()
        return None if lv is None else lv * self.lux_fs
