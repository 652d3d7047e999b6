"""`provision flash`: a blank virtual board, through its RFC 2217 serial port with esptool's Python
API at the default 460800 baud, to a running, enrolled device the fleet has heard from (the
end-to-end flash of this suite); then `provision doctor` reads that board without changing it."""

import httpx
import pytest

from provkit import FAST_WIFI, FIRMWARE_NAME, WIFI, provision, write_firmware


def tech_api(fleet, path):
    """GET path with the technician's API token, as the tool (or a script of theirs) would."""
    r = httpx.get(fleet.url + path, headers={"Authorization": "Bearer " + fleet.tech_token}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def flashed(farm, fleet, tmp_path_factory):
    """One board flashed and enrolled by `provision flash`, shared by the tests that only read it."""
    b = farm.create("prov-flash-e2e", blank=True, replace=True)
    b.set_world(**FAST_WIFI)
    b.start()
    firmware = write_firmware(tmp_path_factory.mktemp("fw") / FIRMWARE_NAME)
    r = provision("flash", "--port", b.serial_url, "--firmware", str(firmware), "--board", "virtual",
                  "--role", "call_button", "--site", "block-7", "--fleet", fleet.url, "--token", fleet.tech_token,
                  "--wifi-ssid", WIFI["ssid"], env={"PROVISION_WIFI_PASSWORD": WIFI["password"]})
    yield b, r
    b.power_cut()


def test_flash_a_blank_board_to_an_enrolled_device(flashed, fleet):
    b, r = flashed
    assert r.returncode == 0, r.stdout + r.stderr
    dev = fleet.device_by_hw(b.info()["hw_id"])
    assert dev is not None and dev["last_hello"] and dev["site"] == "block-7" and dev["role"] == "call_button"
    assert "device   %s (enrolled, said hello)" % dev["id"] in r.stdout
    assert "micropython v1.29.0" in r.stdout
    # the Wi-Fi password went into the board and nowhere else
    assert WIFI["password"] not in r.stdout + r.stderr
    assert WIFI["password"].encode() not in fleet.db.read_bytes()
    assert WIFI["password"] in b.read_file("/config.json").decode()
    assert b.info()["state"] in ("running", "sleeping")
    # the tool reported the run: the technician finds it in the fleet, with the device it became
    runs = [x for x in tech_api(fleet, "/api/v1/provisioning/runs") if x["hw_id"] == b.info()["hw_id"]]
    assert len(runs) == 1 and runs[0]["ok"] and runs[0]["device_id"] == dev["id"] and runs[0]["technician"] == "tech"
    assert runs[0]["firmware"] == "micropython v1.29.0" and runs[0]["stages"]["write"] > 0
    assert b.info()["hw_id"] not in [x["hw_id"] for x in tech_api(fleet, "/api/v1/provisioning/awaiting")]


def test_doctor_reads_the_flashed_board_its_app_and_enrollment(flashed, fleet):
    b, r = flashed
    assert r.returncode == 0, r.stdout + r.stderr
    dev = fleet.device_by_hw(b.info()["hw_id"])
    r = provision("doctor", "--port", b.serial_url, "--app", "--fleet", fleet.url, "--token", fleet.tech_token)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "micropython v1.29.0" in r.stdout                       # the image header's app description
    assert "version " in r.stdout and "no application files" not in r.stdout
    assert "device %s (call_button, site block-7)" % dev["id"] in r.stdout
    assert WIFI["password"] not in r.stdout + r.stderr


def test_doctor_reports_a_blank_board_the_fleet_and_a_bad_token(fleet, blank):
    b = blank(mac="240ac4aabbcc")
    r = provision("doctor", "--port", b.serial_url, "--fleet", fleet.url, "--token", fleet.tech_token)
    out = r.stdout
    assert "ESP32-D0WD-V3 (revision v3.0)" in out and "MAC 24:0a:c4:aa:bb:cc, flash 4 MB" in out
    assert "no application image at 0x10000" in out and "provision flash --port" in out     # blank: a FAIL with its fix
    assert "you are tech (technician)" in out and "clock" in out
    assert r.returncode == 1
    r = provision("doctor", "--fleet", fleet.url, "--token", "ft_wrong")
    assert "FAIL" in r.stdout and "does not accept this API token" in r.stdout
