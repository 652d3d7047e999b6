# The board definition (/board.json, written by the deployer from
# boards/definitions/<board>.json) and the drivers built from it. Role code asks
# for pins by name; no pin numbers appear in the firmware.
#
# Fields used: name, chip, pins{button, led, buzzer, us_trig, us_echo, i2c_scl,
# i2c_sda, battery_adc, light_adc}, button_active_low, led_active_low,
# battery_divider, wake ("ext0" | "ext1" | "gpio"), accel ("mpu6050" | "lis3dh" |
# null), accel_addr, ultrasonic ("jsn-sr04t" | "hc-sr04"), light_full_v; optional:
# us_blind_cm, us_max_cm, light_invert, light_lux_fs.
import store
import log

PATH = "/board.json"


class Board:
    def __init__(self, data=None):
        if data is None:
            data = store.read_json(PATH, None)
            if not isinstance(data, dict):
                log.w("board", "%s missing or invalid: no pins" % PATH)
                data = {}
        self.data = data
        self.name = data.get("name") or "unknown"
        self.pins = data.get("pins") or {}

    def get(self, key, default=None):
        v = self.data.get(key)
        return default if v is None else v

    def pin(self, name):
        """GPIO number of a named pin, or None if the board lacks it."""
        p = self.pins.get(name)
        return p if isinstance(p, int) else None

    # ---- drivers (None when the board lacks the part) ----------------------------
    def button(self, long_ms=3000, woke=False):
        p = self.pin("button")
        if p is None:
            return None
        from drivers.button import Button
        return Button(p, self.get("button_active_low", True), long_ms, woke)

    def led(self):
        p = self.pin("led")
        if p is None:
            return None
        from drivers.led import Led
        return Led(p, self.get("led_active_low", False))

    def buzzer(self):
        p = self.pin("buzzer")
        if p is None:
            return None
        from drivers.buzzer import Buzzer
        return Buzzer(p)

    def battery(self):
        p = self.pin("battery_adc")
        if p is None:
            return None
        from drivers.battery import Battery
        return Battery(p, self.get("battery_divider", 2.0))

    def light(self):
        p = self.pin("light_adc")
        if p is None:
            return None
        from drivers.light import Light
        return Light(p, self.get("light_full_v", 2.0), self.get("light_invert", False),
                     self.get("light_lux_fs", 1000.0))

    def ultrasonic(self):
        t, e = self.pin("us_trig"), self.pin("us_echo")
        if t is None or e is None:
            return None
        from drivers.ultrasonic import Ultrasonic, BLIND_CM
        blind = self.get("us_blind_cm", BLIND_CM.get(self.get("ultrasonic"), 25.0))
        return Ultrasonic(t, e, blind, self.get("us_max_cm", 450.0))

    def accel(self):
        if not self.get("accel") or self.pin("i2c_scl") is None or self.pin("i2c_sda") is None:
            return None
        from drivers.accel import from_board
        return from_board(self.data)

    # ---- deep sleep wake source ---------------------------------------------------
    def arm_wake(self):
        """Configure the button as the deep-sleep wake source. Returns the kind or None."""
        p = self.pin("button")
        kind = self.get("wake")
        if p is None or kind not in ("ext0", "ext1", "gpio"):
            return None
        from machine import Pin
        import esp32
        low = self.get("button_active_low", True)
        pin = Pin(p, Pin.IN, Pin.PULL_UP if low else Pin.PULL_DOWN)
        if kind == "ext0":
            esp32.wake_on_ext0(pin, 0 if low else 1)
        elif kind == "ext1":
            esp32.wake_on_ext1((pin,), esp32.WAKEUP_ALL_LOW if low else esp32.WAKEUP_ANY_HIGH)
        else:
            esp32.wake_on_gpio((pin,), 0 if low else 1)
        return kind
