# Light sensor (LDR or phototransistor in a divider) on an ADC pin.
# level(): 0..1 relative brightness -- the averaged ADC voltage over the voltage at
# full brightness (board.json "light_full_v", default 2.0 V), inverted when the sensor
# pulls the pin low in light ("light_invert"); lux(): a rough linear estimate with
# "light_lux_fs" as full-scale lux (default 1000). Enough to tell day from night and
# a lit streetlight from a dark one; not a lux meter.


def level_from(uv_samples, full_v=2.0, invert=False):
    if not uv_samples or full_v <= 0:
        return None
    v = sum(uv_samples) / len(uv_samples) / 1e6 / full_v
    v = max(0.0, min(1.0, v))
    return 1.0 - v if invert else v


class Light:
    def __init__(self, pin, full_v=2.0, invert=False, lux_fs=1000.0, samples=8, adc=None):
        if adc is None:
            from machine import ADC, Pin
            adc = ADC(Pin(pin), atten=ADC.ATTN_11DB)
        self.adc = adc
        self.full_v = full_v
        self.invert = invert
        self.lux_fs = lux_fs
        self.samples = samples

    def level(self):
        return level_from([self.adc.read_uv() for _ in range(self.samples)], self.full_v, self.invert)

    def lux(self):
        lv = self.level()
        return None if lv is None else lv * self.lux_fs


def from_board(board):
    """The board's light sensor (pins.light_adc), or None."""
    p = board.pin("light_adc")
    if p is None:
        return None
    return Light(p, board.get("light_full_v", 2.0), board.get("light_invert", False),
                 board.get("light_lux_fs", 1000.0))
