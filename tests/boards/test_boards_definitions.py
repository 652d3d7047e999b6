"""Board definitions: every shipped definition is valid, and invalid ones are refused with a
message that names the problem (validation runs before anything uses a board)."""

import copy
import json

import pytest

from boards import CHIPS, PIN_NAMES, BoardError, board_path, list_boards, load_board, validate_board
from boards.chips import adc_unit, can_wake


def test_the_three_boards_exist():
    assert {"esp32-devkitc", "esp32-c3-devkitm-1", "virtual"} <= set(list_boards())


@pytest.mark.parametrize("name", list_boards())
def test_every_definition_is_valid_for_its_chip(name):
    b = load_board(name)
    chip = CHIPS[b["chip"]]
    assert b["name"] == name
    assert set(PIN_NAMES) <= set(b["pins"])
    used = [p for p in b["pins"].values() if p is not None]
    assert len(used) == len(set(used)), "a GPIO is used twice"
    for key, pin in b["pins"].items():
        if pin is None:
            continue
        assert pin in chip["gpios"]
        # machine.Pin(pin) must not raise on the board's MicroPython image
        assert pin in chip["pin_table"], "%s: GPIO%d is not in %s's pin table" % (key, pin, b["chip"])
        assert pin not in chip["flash_pins"] and pin not in chip["console_pins"]
        if pin in chip["strapping_pins"]:
            assert key in ("i2c_scl", "i2c_sda") and pin in chip["strapping_high_ok"], key
    for key in ("battery_adc", "light_adc"):
        assert adc_unit(b["chip"], b["pins"][key]) == 1, "%s must be on ADC1 (Wi-Fi owns ADC2)" % key
    assert can_wake(b["chip"], b["pins"]["button"], b["wake"])
    assert isinstance(b["button_active_low"], bool) and isinstance(b["led_active_low"], bool)
    assert b["battery_divider"] >= 1.0
    assert b["accel"] in ("mpu6050", "lis3dh", None)
    if not b["virtual"]:
        assert b["micropython"]["offset"] == chip["flash_offset"]
        assert b["micropython"]["image_pattern"].startswith(b["micropython"]["board"])


def test_chip_specific_facts():
    esp32 = load_board("esp32-devkitc")
    c3 = load_board("esp32-c3-devkitm-1")
    assert (esp32["chip"], esp32["micropython"]["offset"], esp32["wake"]) == ("esp32", 0x1000, "ext0")
    assert (c3["chip"], c3["micropython"]["offset"], c3["wake"]) == ("esp32c3", 0x0, "gpio")
    assert esp32["micropython"]["board"] == "ESP32_GENERIC"
    assert c3["micropython"]["board"] == "ESP32_GENERIC_C3"
    assert c3["pins"]["button"] in CHIPS["esp32c3"]["gpio_wake_pins"]
    assert "ext0" not in CHIPS["esp32c3"]["wake"]
    assert load_board("virtual")["virtual"] is True


def _broken(mutate, base="esp32-devkitc"):
    raw = json.loads(open(board_path(base)).read())
    raw = copy.deepcopy(raw)
    mutate(raw)
    with pytest.raises(BoardError) as e:
        validate_board(raw, expected_name=base)
    return e.value


@pytest.mark.parametrize("mutate, needle", [
    (lambda r: r["pins"].update(battery_adc=26), "ADC2"),
    (lambda r: r["pins"].update(light_adc=23), "has no ADC"),
    (lambda r: r["pins"].update(led=12), "strapping pin"),
    (lambda r: r["pins"].update(buzzer=7), "SPI flash"),
    (lambda r: r["pins"].update(led=1), "UART0 console"),
    (lambda r: r["pins"].update(us_trig=36), "input-only"),
    (lambda r: r["pins"].update(button=36), "no internal pull-up"),
    (lambda r: r["pins"].update(button=23), "cannot wake"),
    (lambda r: r["pins"].update(led=20), "does not exist"),
    (lambda r: r["pins"].update(led=27), "already used"),
    (lambda r: r["pins"].pop("buzzer"), "pins.buzzer: missing"),
    (lambda r: r["micropython"].update(offset="0x0"), "wrong for esp32"),
    (lambda r: r.update(wake="gpio"), "cannot wake from deep sleep with 'gpio'"),
    (lambda r: r.update(accel="adxl345"), "accel"),
    (lambda r: r.update(accel_addr=0x18), "accel_addr"),
    (lambda r: r.update(battery_divider=0.5), "battery_divider"),
    (lambda r: r.update(button_active_low="yes"), "button_active_low"),
    (lambda r: r.update(chip="esp8266"), "unknown chip"),
    (lambda r: r.update(name="other"), "must equal the file name"),
    (lambda r: r["flash"].update(size_bytes=123), "does not match"),
])
def test_invalid_definitions_are_refused_with_the_reason(mutate, needle):
    err = _broken(mutate)
    assert any(needle in p for p in err.problems), err.problems


def test_c3_rules():
    err = _broken(lambda r: r["pins"].update(button=7), base="esp32-c3-devkitm-1")
    assert any("GPIO0, GPIO1, GPIO2, GPIO3, GPIO4, GPIO5" in p for p in err.problems)
    err = _broken(lambda r: r.update(wake="ext0"), base="esp32-c3-devkitm-1")
    assert any("supports gpio" in p for p in err.problems)
    err = _broken(lambda r: r["pins"].update(led=9), base="esp32-c3-devkitm-1")
    assert any("strapping" in p for p in err.problems)


def test_pins_outside_micropythons_pin_table_are_refused():
    # ESP32_GENERIC_C3 keeps GPIO18/19 for its USB-Serial-JTAG console: Pin(19) raises there.
    err = _broken(lambda r: r["pins"].update(i2c_scl=19, i2c_sda=18), base="esp32-c3-devkitm-1")
    assert sum("not in MicroPython's pin table" in p and "USB-Serial-JTAG" in p for p in err.problems) == 2
    err = _broken(lambda r: r["pins"].update(led=14), base="esp32-c3-devkitm-1")
    assert any("GPIO14 is not in MicroPython's pin table" in p for p in err.problems)
    # a strapping pin whose boot level is low never, not even for I2C
    err = _broken(lambda r: r["pins"].update(i2c_sda=12))
    assert any("GPIO12 is a strapping pin" in p for p in err.problems)


def test_all_problems_reported_at_once():
    def many(r):
        r["pins"]["battery_adc"] = 26
        r["pins"]["led"] = 12
        r["wake"] = "nope"
    err = _broken(many)
    assert len(err.problems) >= 3
    assert "is invalid" in str(err) and "ADC2" in str(err)


def test_unknown_and_malformed_boards(tmp_path):
    with pytest.raises(BoardError, match="unknown board 'esp99'.*known boards: .*esp32-devkitc"):
        load_board("esp99")
    with pytest.raises(BoardError, match="not a board name"):
        load_board("../etc/passwd")
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "bad",')
    with pytest.raises(BoardError, match="not valid JSON"):
        load_board(bad)
    with pytest.raises(BoardError, match="no board definition file"):
        load_board(tmp_path / "missing.json")


def test_custom_definition_file_loads(tmp_path):
    raw = json.loads(open(board_path("esp32-devkitc")).read())
    raw["name"] = "my-board"
    raw["pins"]["led"] = 23
    p = tmp_path / "my-board.json"
    p.write_text(json.dumps(raw))
    b = load_board(p)
    assert b["pins"]["led"] == 23 and b["micropython"]["offset"] == 0x1000
