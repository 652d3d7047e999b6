"""What each supported chip can do with its pins.

Used to validate board definitions before anything runs, and handed to the virtual board so its
shims refuse what the real chip refuses (an ADC on a pin without one, an ext0 wake on a pin
outside the RTC domain, ...). Sources: Espressif ESP32 and ESP32-C3 datasheets (GPIO, ADC,
RTC-IO and strapping tables) and MicroPython's esp32 port: `pin_table` is what `machine.Pin()`
accepts, copied from ports/esp32/machine_pin.h (MICROPY_HW_ENABLE_GPIOn per target, v1.29),
where machine_pin.c machine_pin_find() raises ValueError("invalid pin") for any other number.
"""

# One dict per chip. Pin numbers are GPIO numbers.
CHIPS = {
    "esp32": {
        "title": "ESP32 (Xtensa LX6 dual core, Wi-Fi + BLE 4.2)",
        # GPIO20, 24 and 28-31 do not exist on the ESP32.
        "gpios": list(range(0, 20)) + [21, 22, 23, 25, 26, 27] + list(range(32, 40)),
        # machine_pin.h, CONFIG_IDF_TARGET_ESP32: GPIO0-23, 25-27, 32-39 (GPIO16/17 only without
        # SPIRAM: ESP32_GENERIC has none). GPIO20 is in the table though WROOM-32 does not bond it.
        "pin_table": list(range(0, 24)) + [25, 26, 27] + list(range(32, 40)),
        # Wired to the SPI flash inside ESP32-WROOM-32: never usable.
        "flash_pins": [6, 7, 8, 9, 10, 11],
        # Sampled at reset: an external circuit on them can stop the chip from booting.
        "strapping_pins": [0, 2, 5, 12, 15],
        # Strapping pins whose level for a normal (SPI flash) boot is high: an I2C line with its
        # pull-up keeps them there, so only i2c_scl/i2c_sda may use them. (GPIO2 and GPIO12 must
        # be low: never.)
        "strapping_high_ok": [0, 5, 15],
        # UART0 (the USB serial console of a DevKitC).
        "console_pins": [1, 3],
        # No output driver and no internal pull resistors.
        "input_only": [34, 35, 36, 37, 38, 39],
        # ADC1 channel per pin. ADC2 cannot be read while Wi-Fi is on.
        "adc1": {32: 4, 33: 5, 34: 6, 35: 7, 36: 0, 37: 1, 38: 2, 39: 3},
        "adc2": {0: 1, 2: 2, 4: 0, 12: 5, 13: 4, 14: 6, 15: 3, 25: 8, 26: 9, 27: 7},
        "adc_widths": [9, 10, 11, 12],
        # RTC GPIOs: the only pins ext0/ext1 can wake the chip from deep sleep with.
        "rtc_pins": [0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39],
        # Deep-sleep wake sources MicroPython offers on this chip.
        "wake": ["ext0", "ext1", "timer", "touch", "ulp"],
        "gpio_wake_pins": [],
        # MicroPython's default pins for I2C(0) / I2C(1) when none are given.
        "i2c_defaults": {0: {"scl": 18, "sda": 19}, 1: {"scl": 25, "sda": 26}},
        "cpu_freqs_mhz": [20, 40, 80, 160, 240],
        "default_freq_mhz": 160,
        "flash_offset": 0x1000,
        "temperature": "raw_temperature",
    },
    "esp32c3": {
        "title": "ESP32-C3 (RISC-V single core, Wi-Fi + BLE 5)",
        "gpios": list(range(0, 22)),
        # machine_pin.h, CONFIG_IDF_TARGET_ESP32C3: GPIO0-13, 20, 21; GPIO18/19 only when
        # !MICROPY_HW_ESP_USB_SERIAL_JTAG, and ESP32_GENERIC_C3 enables the USB-Serial-JTAG
        # console on them (boards/ESP32_GENERIC_C3/board.md): Pin(18)/Pin(19) raise there.
        "pin_table": list(range(0, 14)) + [20, 21],
        # GPIO12-17 are the SPI flash pins; GPIO11 is VDD_SPI unless re-purposed by eFuse.
        "flash_pins": [11, 12, 13, 14, 15, 16, 17],
        "strapping_pins": [2, 8, 9],
        # SPI boot needs GPIO9 high; GPIO2 and GPIO8 must be high for download mode.
        "strapping_high_ok": [2, 8, 9],
        # GPIO18/19 are the USB-Serial-JTAG pins (the console of the official image, not in
        # its pin table), GPIO20/21 UART0 (console on DevKitM-1).
        "console_pins": [20, 21],
        "usb_pins": [18, 19],
        "input_only": [],
        "adc1": {0: 0, 1: 1, 2: 2, 3: 3, 4: 4},
        "adc2": {5: 0},
        "adc_widths": [12],
        "rtc_pins": [0, 1, 2, 3, 4, 5],
        # The C3 has neither ext0 nor ext1; it wakes from deep sleep on GPIO0-5 only.
        "wake": ["gpio", "timer"],
        "gpio_wake_pins": [0, 1, 2, 3, 4, 5],
        "i2c_defaults": {0: {"scl": 9, "sda": 8}},
        "cpu_freqs_mhz": [20, 40, 80, 160],
        "default_freq_mhz": 160,
        "flash_offset": 0x0,
        "temperature": "mcu_temperature",
    },
}


def chip(name):
    """The capability table of a chip, or KeyError."""
    return CHIPS[name]


def adc_unit(chip_name, pin):
    """1 or 2 for an ADC-capable pin, None otherwise."""
    c = CHIPS[chip_name]
    if pin in c["adc1"]:
        return 1
    if pin in c["adc2"]:
        return 2
    return None


def can_wake(chip_name, pin, kind):
    """True if `pin` can wake the chip from deep sleep with wake source `kind`."""
    c = CHIPS[chip_name]
    if kind not in c["wake"]:
        return False
    if kind in ("ext0", "ext1"):
        return pin in c["rtc_pins"]
    if kind == "gpio":
        return pin in c["gpio_wake_pins"]
    return False


def for_shim(chip_name):
    """The subset of the table the virtual board's shims need (JSON-friendly keys)."""
    c = CHIPS[chip_name]
    return {
        "name": chip_name,
        "gpios": c["gpios"],
        "pin_table": c["pin_table"],
        "flash_pins": c["flash_pins"],
        "input_only": c["input_only"],
        "adc1": sorted(c["adc1"]),
        "adc2": sorted(c["adc2"]),
        "adc_widths": c["adc_widths"],
        "rtc_pins": c["rtc_pins"],
        "wake": c["wake"],
        "gpio_wake_pins": c["gpio_wake_pins"],
        "i2c_defaults": {str(k): v for k, v in c["i2c_defaults"].items()},
        "cpu_freqs_mhz": c["cpu_freqs_mhz"],
        "default_freq_mhz": c["default_freq_mhz"],
        "temperature": c["temperature"],
    }
