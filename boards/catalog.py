"""Board definitions: find, load and validate them.

A board definition is one JSON file in boards/definitions/. It is validated completely before it
is used (the esphome lesson): every problem is collected and reported at once in a BoardError
that says what is wrong and what to do.
"""

import json
import re
from pathlib import Path

from .chips import CHIPS, adc_unit, can_wake
from .partitions import TABLES, check, table, with_vfs

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

# The pin names every board defines (value: a GPIO number, or null when not fitted).
PIN_NAMES = ("button", "led", "buzzer", "us_trig", "us_echo", "i2c_scl", "i2c_sda",
             "battery_adc", "light_adc")
# Pins the firmware drives: they need an output driver.
OUTPUT_PINS = ("led", "buzzer", "us_trig", "i2c_scl", "i2c_sda")
ADC_PINS = ("battery_adc", "light_adc")
# Open-drain with pull-ups to 3.3 V: may sit on a strapping pin whose boot level is high.
I2C_PINS = ("i2c_scl", "i2c_sda")
ACCELS = {"mpu6050": (0x68, 0x69), "lis3dh": (0x18, 0x19)}
ULTRASONICS = ("jsn-sr04t", "hc-sr04")
WAKES = ("ext0", "ext1", "gpio")
FLASH_MODES = ("qio", "qout", "dio", "dout")
FLASH_FREQS = ("20m", "26m", "40m", "80m")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class BoardError(Exception):
    """A board definition is unknown or invalid. `problems` lists every problem found."""

    def __init__(self, message, board=None, problems=None):
        self.board = board
        self.problems = list(problems or [])
        if self.problems:
            message = message + ":\n" + "\n".join("  - " + p for p in self.problems)
        super().__init__(message)


def definitions_dir():
    return DEFINITIONS_DIR


def list_boards():
    """Names of all board definitions, sorted."""
    return sorted(p.stem for p in DEFINITIONS_DIR.glob("*.json"))


def board_path(name):
    """Path of a board definition given its name (or a path to a .json file)."""
    if isinstance(name, Path) or str(name).endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise BoardError("no board definition file %s" % path, board=str(name))
        return path
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BoardError("%r is not a board name (lower-case letters, digits and '-'); known boards: %s"
                         % (name, ", ".join(list_boards())), board=name)
    path = DEFINITIONS_DIR / (name + ".json")
    if not path.is_file():
        raise BoardError("unknown board %r; known boards: %s (add one as boards/definitions/%s.json, "
                         "see docs/boards.md)" % (name, ", ".join(list_boards()), name), board=name)
    return path


def load_board(name):
    """Load and validate a board definition; returns a normalised dict.

    `name` is a board name (see list_boards()) or a path to a JSON file. Raises BoardError for an
    unknown board, unreadable JSON, or any invalid field. Hex strings for offsets are returned as
    ints (micropython.offset).
    """
    path = board_path(name)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise BoardError("cannot read board definition %s: %s" % (path, e), board=str(name))
    except json.JSONDecodeError as e:
        raise BoardError("board definition %s is not valid JSON (line %d column %d: %s)"
                         % (path, e.lineno, e.colno, e.msg), board=str(name))
    return validate_board(raw, expected_name=path.stem, source=str(path))


def _hex_or_int(value):
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 0)
    raise ValueError("not a number")


def validate_board(raw, expected_name=None, source="<dict>"):
    """Validate a board definition dict; return the normalised copy or raise BoardError."""
    problems = []

    def need(key, types, where=raw, prefix=""):
        if key not in where:
            problems.append("%s%s: missing" % (prefix, key))
            return None
        value = where[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            problems.append("%s%s: expected %s, got %r" % (prefix, key, _type_names(types), value))
            return None
        return value

    if not isinstance(raw, dict):
        raise BoardError("board definition %s must be a JSON object" % source)
    board = json.loads(json.dumps(raw))  # deep copy

    name = need("name", str)
    if name is not None:
        if not NAME_RE.match(name):
            problems.append("name: %r must be lower-case letters, digits and '-'" % name)
        if expected_name is not None and name != expected_name:
            problems.append("name: %r must equal the file name %r" % (name, expected_name))
    need("title", str)
    chip_name = need("chip", str)
    chip = None
    if chip_name is not None:
        chip = CHIPS.get(chip_name)
        if chip is None:
            problems.append("chip: unknown chip %r; supported: %s" % (chip_name, ", ".join(sorted(CHIPS))))
    need("module", str)
    virtual = need("virtual", bool)

    flash = need("flash", dict)
    if flash is not None:
        size = need("size", str, flash, "flash.")
        if size is not None and not re.match(r"^\d+MB$", size):
            problems.append("flash.size: %r must look like '4MB'" % size)
        size_bytes = need("size_bytes", int, flash, "flash.")
        if size is not None and size_bytes is not None and re.match(r"^\d+MB$", size):
            if int(size[:-2]) * 1024 * 1024 != size_bytes:
                problems.append("flash.size_bytes: %d does not match flash.size %s" % (size_bytes, size))
        mode = need("mode", str, flash, "flash.")
        if mode is not None and mode not in FLASH_MODES:
            problems.append("flash.mode: %r is not one of %s" % (mode, ", ".join(FLASH_MODES)))
        freq = need("freq", str, flash, "flash.")
        if freq is not None and freq not in FLASH_FREQS:
            problems.append("flash.freq: %r is not one of %s" % (freq, ", ".join(FLASH_FREQS)))

    mp = need("micropython", dict)
    if mp is not None:
        need("board", str, mp, "micropython.")
        need("version", str, mp, "micropython.")
        need("download", str, mp, "micropython.")
        if virtual is False:
            need("image_pattern", str, mp, "micropython.")
            if "offset" not in mp:
                problems.append("micropython.offset: missing (0x1000 for esp32, 0x0 for esp32c3)")
            else:
                try:
                    offset = _hex_or_int(mp["offset"])
                    mp["offset"] = offset
                    if chip is not None and offset != chip["flash_offset"]:
                        problems.append("micropython.offset: %#x is wrong for %s; the image goes at %#x"
                                        % (offset, chip_name, chip["flash_offset"]))
                except ValueError:
                    problems.append("micropython.offset: %r is not a number like \"0x1000\"" % (mp["offset"],))
        elif virtual:
            mp["offset"] = None
        board["micropython"] = mp

    parts = need("partitions", dict)
    if parts is not None:
        tname = need("table", str, parts, "partitions.")
        if tname is not None:
            if tname not in TABLES:
                problems.append("partitions.table: %r is not a table MicroPython's images use; known: %s"
                                % (tname, ", ".join(sorted(TABLES))))
            elif flash is not None and isinstance(flash.get("size_bytes"), int):
                for p in check(with_vfs(table(tname), flash["size_bytes"]), flash["size_bytes"]):
                    problems.append("partitions.table: %s" % p)
        if "bootloader" in parts and chip is not None:
            try:
                if _hex_or_int(parts["bootloader"]) != chip["flash_offset"]:
                    problems.append("partitions.bootloader: %s is wrong for %s (%#x)"
                                    % (parts["bootloader"], chip_name, chip["flash_offset"]))
            except ValueError:
                problems.append("partitions.bootloader: %r is not a number" % (parts["bootloader"],))

    pins = need("pins", dict)
    if pins is not None:
        for key in PIN_NAMES:
            if key not in pins:
                problems.append("pins.%s: missing (use null if the board has none)" % key)
        seen = {}
        for key, pin in pins.items():
            where = "pins.%s" % key
            if pin is None:
                continue
            if isinstance(pin, bool) or not isinstance(pin, int):
                problems.append("%s: expected a GPIO number or null, got %r" % (where, pin))
                continue
            if pin in seen:
                problems.append("%s: GPIO%d is already used by pins.%s" % (where, pin, seen[pin]))
            seen[pin] = key
            if chip is None:
                continue
            if pin not in chip["gpios"]:
                problems.append("%s: GPIO%d does not exist on %s" % (where, pin, chip_name))
                continue
            if pin not in chip["pin_table"]:
                why = " (the USB-Serial-JTAG console of the official image)" if pin in chip.get("usb_pins", ()) else ""
                problems.append("%s: GPIO%d is not in MicroPython's pin table for %s%s: machine.Pin(%d) raises "
                                "ValueError('invalid pin'); pick another pin" % (where, pin, chip_name, why, pin))
                continue
            if pin in chip["flash_pins"]:
                problems.append("%s: GPIO%d is wired to the SPI flash on %s; pick another pin"
                                % (where, pin, chip_name))
            if pin in chip["console_pins"]:
                problems.append("%s: GPIO%d is the UART0 console; pick another pin" % (where, pin))
            if pin in chip["strapping_pins"] and not (key in I2C_PINS and pin in chip["strapping_high_ok"]):
                problems.append("%s: GPIO%d is a strapping pin on %s (sampled at reset, can stop the board "
                                "from booting); pick another pin%s" % (where, pin, chip_name,
                                 " (an I2C line may use %s: its pull-up holds the boot level)"
                                 % _pinlist(chip["strapping_high_ok"]) if key in I2C_PINS else ""))
            if key in OUTPUT_PINS and pin in chip["input_only"]:
                problems.append("%s: GPIO%d is input-only on %s and cannot drive an output" % (where, pin, chip_name))
            if key in ADC_PINS:
                unit = adc_unit(chip_name, pin)
                if unit is None:
                    problems.append("%s: GPIO%d has no ADC on %s; ADC1 pins are %s"
                                    % (where, pin, chip_name, _pinlist(chip["adc1"])))
                elif unit == 2:
                    problems.append("%s: GPIO%d is on ADC2, which cannot be read while Wi-Fi is on; use an "
                                    "ADC1 pin (%s)" % (where, pin, _pinlist(chip["adc1"])))
            if key == "button" and pin in chip["input_only"] and raw.get("button_active_low") is True:
                problems.append("pins.button: GPIO%d has no internal pull-up on %s; an active-low button "
                                "needs one" % (pin, chip_name))

    bal = need("button_active_low", bool)
    need("led_active_low", bool)
    div = need("battery_divider", (int, float))
    if div is not None and not (1.0 <= div <= 20.0):
        problems.append("battery_divider: %r must be between 1.0 (no divider) and 20.0" % div)
    lfv = board.setdefault("light_full_v", 2.0)
    if isinstance(lfv, bool) or not isinstance(lfv, (int, float)) or not (0.1 <= lfv <= 3.3):
        problems.append("light_full_v: %r must be a voltage between 0.1 and 3.3" % (lfv,))

    wake = need("wake", str)
    if wake is not None:
        if wake not in WAKES:
            problems.append("wake: %r is not one of %s" % (wake, ", ".join(WAKES)))
        elif chip is not None:
            if wake not in chip["wake"]:
                problems.append("wake: %s cannot wake from deep sleep with %r; it supports %s"
                                % (chip_name, wake, ", ".join(w for w in chip["wake"] if w in WAKES)))
            elif pins is not None and isinstance(pins.get("button"), int) and not isinstance(pins.get("button"), bool):
                if pins["button"] in chip["gpios"] and not can_wake(chip_name, pins["button"], wake):
                    allowed = chip["rtc_pins"] if wake in ("ext0", "ext1") else chip["gpio_wake_pins"]
                    problems.append("pins.button: GPIO%d cannot wake %s from deep sleep with %s; use one of %s"
                                    % (pins["button"], chip_name, wake, _pinlist(allowed)))
    del bal

    if "accel" not in raw:
        problems.append("accel: missing (\"mpu6050\", \"lis3dh\" or null)")
    else:
        accel = raw["accel"]
        if accel is not None and accel not in ACCELS:
            problems.append("accel: %r is not one of mpu6050, lis3dh, null" % (accel,))
        elif accel is not None:
            addr = board.setdefault("accel_addr", ACCELS[accel][0])
            if addr not in ACCELS[accel]:
                problems.append("accel_addr: %r is not an address of %s (%s)"
                                % (addr, accel, ", ".join("0x%02x" % a for a in ACCELS[accel])))
            if pins is not None and (pins.get("i2c_scl") is None or pins.get("i2c_sda") is None):
                problems.append("accel: %s needs pins.i2c_scl and pins.i2c_sda" % accel)
        else:
            board.setdefault("accel_addr", None)
    us = board.setdefault("ultrasonic", None)
    if us is not None and us not in ULTRASONICS:
        problems.append("ultrasonic: %r is not one of %s or null" % (us, ", ".join(ULTRASONICS)))
    if "notes" in raw and not (isinstance(raw["notes"], list) and all(isinstance(n, str) for n in raw["notes"])):
        problems.append("notes: expected a list of strings")

    if problems:
        raise BoardError("board definition %s is invalid" % source, board=name, problems=problems)
    return board


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _type_names(types):
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false", dict: "an object",
             list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in _as_tuple(types))


def _pinlist(pins):
    return ", ".join("GPIO%d" % p for p in sorted(pins))


def board_summary(board):
    """One line describing a loaded board (for CLIs)."""
    return "%s: %s [%s%s]" % (board["name"], board["title"], board["chip"], ", virtual" if board["virtual"] else "")

