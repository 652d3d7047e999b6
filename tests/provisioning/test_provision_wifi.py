"""`provision wifi`: Wi-Fi into a board over Improv - Improv Serial on the USB serial port, and
Improv over BLE with bleak (its real client API; the virtual board's radio is the fake at the
one true boundary: boards/virtual/bleak_backend.py). The firmware's provisioning mode runs the
real firmware (firmware/app/improvmode.py) on the real MicroPython: a board with no Wi-Fi
enters it by itself, a board with Wi-Fi when its button is held at power-on. The board tries
the network before it keeps it: a wrong password is Improv error 0x03, Wi-Fi settings over BLE
without the button press 0x04, and neither leaves anything on the board."""

import json
import subprocess
import sys
import time

import pytest

from hil_tests.polling import wait_until

from provisioning.image import device_files
from provkit import FAST_WIFI, WIFI, provision

GATE = "72k"                       # the firmware's heap gate (docs/firmware.md "Heap")
SITE_AP = {"ap_ssid": WIFI["ssid"], "ap_password": WIFI["password"]}


@pytest.fixture
def unset(farm, fleet, request):
    """A call button flashed without Wi-Fi (an enrollment token in its config): it starts in its
    Wi-Fi setup mode. The site's access point is WIFI."""
    made = []

    def make(suffix="", heapsize=None):
        name = request.node.name[:40] + suffix
        cfg = {"role": "call_button", "board": "virtual", "fleet_url": fleet.url, "power": "mains",
               "enroll_token": fleet.enrollment_token(role="call_button")}
        # the filesystem `provision flash` writes: the app compiled by mpy-cross, as on a real board
        b = farm.create(name, replace=True, heapsize=heapsize, files=device_files("virtual", cfg))
        b.set_world(**FAST_WIFI, **SITE_AP)
        b.start()
        b.expect(r"improv: provisioning mode \(no Wi-Fi configured\)", timeout=20)
        made.append(b)
        return b
    yield make
    for b in made:
        b.power_cut()


def env(farm, password=WIFI["password"]):
    return {"VBOARD_HOME": str(farm.home), "PROVISION_WIFI_PASSWORD": password}


def config(b):
    return json.loads(b.read_file("/config.json"))


def test_over_the_serial_port_the_board_joins_enrolls_and_says_hello(farm, fleet, unset):
    b = unset()
    r = provision("wifi", "--port", b.serial_url, "--wifi-ssid", WIFI["ssid"], env=env(farm))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Wi-Fi %s set on call_button %s (district-devices" % (WIFI["ssid"], b.info()["hw_id"]) in r.stdout
    b.expect(r"improv: Wi-Fi site-ap works: kept in /config.json", timeout=10)
    b.expect(r"supervisor: start", timeout=20)                 # reset into the application
    dev = wait_until(lambda: fleet.device_by_hw(b.info()["hw_id"]), "the device's first hello", 30, 0.5)
    assert dev["last_hello"]
    assert config(b)["wifi"] == WIFI
    assert WIFI["password"] not in r.stdout + r.stderr + b.console_text()      # never printed, on either side


def test_a_wrong_password_is_error_3_and_nothing_is_kept(farm, unset):
    b = unset()
    r = provision("wifi", "--port", b.serial_url, "--wifi-ssid", WIFI["ssid"], env=env(farm, "not-the-password"))
    assert r.returncode == 1
    assert "Improv error 0x03, unable to connect" in r.stderr and "Check the network name and password" in r.stderr
    assert "wifi" not in config(b)                                     # nothing kept
    assert b.info()["state"] == "running" and "provisioning mode" in b.console_text()   # still waiting
    # the board lists what it sees, so the technician can check the name
    r = provision("wifi", "--port", b.serial_url, "--scan", env=env(farm))
    assert r.returncode == 0, r.stderr
    assert WIFI["ssid"] in r.stdout and "password" in r.stdout


def ble(farm, b, *args, password=WIFI["password"], wait=False):
    cmd = [sys.executable, "-m", "provisioning.cli", "wifi", "--ble", b.bt_mac, "--ble-backend", "vboard",
           "--wifi-ssid", WIFI["ssid"]] + list(args)
    import os
    e = dict(os.environ, COLUMNS="200", **env(farm, password))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    return p


def test_over_ble_without_the_button_press_it_is_refused_with_error_4(farm, unset):
    b = unset()
    p = ble(farm, b, "--wait-press", "0")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, out + err
    assert "not authorized (Improv error 0x04)" in err and "Press the board's button" in err
    assert "wifi" not in config(b)
    b.expect("Wi-Fi settings refused: not authorized", timeout=5)


def test_over_ble_with_the_button_press_then_a_wrong_password_then_the_right_one(farm, fleet, unset):
    b = unset()
    # the advertisement is Improv's: service UUID and service data 0x4677 (state: authorization required)
    from boards.virtual.bleak_backend import parse_adv
    name, services, sdata, _m, _t = parse_adv(b.info()["ble"]["adv"], b.info()["ble"]["resp"])
    assert "00467768-6228-2272-4663-277478268000" in services
    assert sdata["00004677-0000-1000-8000-00805f9b34fb"][:2] == bytes([1, 7]) and name.startswith("Improv ")
    p = ble(farm, b, password="wrong-password")
    line = p.stdout.readline()
    assert "press the button on the board call_button %s" % b.info()["hw_id"] in line
    b.press(200)                                           # the technician presses the button
    out, err = p.communicate(timeout=90)
    assert p.returncode == 1 and "Improv error 0x03, unable to connect" in err, out + err
    assert "wifi" not in config(b)
    p = ble(farm, b, "--wait-press", "5")                  # within the minute: still authorized
    out, err = p.communicate(timeout=90)
    assert p.returncode == 0, out + err
    b.expect(r"supervisor: start", timeout=20)
    dev = wait_until(lambda: fleet.device_by_hw(b.info()["hw_id"]), "the device's first hello", 30, 0.5)
    assert dev["last_hello"] and config(b)["wifi"] == WIFI
    assert WIFI["password"] not in out + err + b.console_text()


def test_a_board_with_wifi_enters_setup_mode_when_its_button_is_held_at_power_on(farm, unset):
    b = unset()
    r = provision("wifi", "--port", b.serial_url, "--wifi-ssid", WIFI["ssid"], env=env(farm))
    assert r.returncode == 0, r.stderr
    b.expect(r"supervisor: start", timeout=20)
    b.hold()                                               # hold the button, press EN, keep holding
    b.reset()
    b.expect(r"improv: provisioning mode \(button held at power-on\)", timeout=20)
    b.release()
    # without the button held, the same board starts its application: Improv stays out of it
    b.power_cut()
    b.start()
    b.expect(r"supervisor: start", timeout=20)
    assert "improv" not in b.console_text().rsplit("rst:", 1)[1]


def test_the_improv_session_fits_the_firmware_heap_gate(farm, unset):
    """Setup mode alone - the Improv code, BLE on, the serial link - in the 72 KB gate: scan,
    a refused password, then the right one, over serial and BLE (the normal wake that follows is
    the application's own budget, tests/firmware). The least free heap is logged for
    docs/performance.md."""
    import re
    b = unset(heapsize=GATE)
    r = provision("wifi", "--port", b.serial_url, "--scan", env=env(farm))
    assert r.returncode == 0 and WIFI["ssid"] in r.stdout, r.stderr
    p = ble(farm, b, password="wrong-password")
    assert "press the button" in p.stdout.readline()
    b.press(200)
    out, err = p.communicate(timeout=90)
    assert p.returncode == 1 and "0x03" in err, out + err
    r = provision("wifi", "--port", b.serial_url, "--wifi-ssid", WIFI["ssid"], env=env(farm))
    assert r.returncode == 0, r.stdout + r.stderr
    m = b.expect(r"improv: heap: least free (\d+)", timeout=10)
    assert int(m.group(1)) > 0
    assert "MemoryError" not in b.console_text()
