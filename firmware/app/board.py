# The board definition (/board.json, written by the deployer from
# boards/definitions/<board>.json) and the drivers built from it. Role code asks
# for pins by name; no pin numbers appear in the firmware.
#
# Fields used: name, chip, pins{button, led, buzzer, us_trig, us_echo, i2c_scl,
# i2c_sda, battery_adc, light_adc}, button_active_low, led_active_low,
# battery_divider, wake ("ext0" | "ext1" | "gpio"), accel ("mpu6050" | "lis3dh" |
# null), accel_addr, ultrasonic ("jsn-sr04t" | "hc-sr04"), light_full_v; optional:
# us_blind_cm, us_max_cm, light_invert, light_lux_fs. The sensors only some roles use
# are made by from_board(board) in drivers/light.py, ultrasonic.py and accel.py.
import store
import log
from micropython import const

_PATH = const("/board.json")


class Board:
    def __init__(self, data=None):
        if data is None:
            data = store.read_json(_PATH, None)
            if not isinstance(data, dict):
                log.w("board", "%s missing or invalid: no pins" % _PATH)
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

    def driver(self, name, long_ms=3000, woke=False):
        """The driver of a part: "button", "led", "buzzer" or "battery" (None when the
        board lacks it). long_ms and woke are the button's."""
        p = self.pin("battery_adc" if name == "battery" else name)
        if p is None:
            return None
        if name == "button":
            from drivers.button import Button
            return Button(p, self.get("button_active_low", True), long_ms, woke)
        if name == "led":
            from drivers.led import Led
            return Led(p, self.get("led_active_low", False))
        if name == "buzzer":
            from drivers.buzzer import Buzzer
            return Buzzer(p)
        from drivers.battery import Battery
        return Battery(p, self.get("battery_divider", 2.0))
