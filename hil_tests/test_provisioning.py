"""Provisioning scenario: a blank board to an enrolled device that reports, with the technician's
tool (provisioning.flow.provision_board: esptool's Python API, the fleet's API with a token).

On virtual boards: a blank virtual ESP32 on its RFC 2217 serial port and the stand-in MicroPython
image (boards/espimage.py). On a real DevKitC (--board serial --port /dev/ttyUSB0) it flashes
the MicroPython firmware given with --firmware; without it the test is skipped with that reason.
"""

import ssl

import pytest

from boards import espimage
from provisioning.fleetapi import Fleet
from provisioning.flow import FlashJob, provision_board


def test_blank_board_to_enrolled_device_that_reports(rig, fleet, request, tmp_path):
    opt = request.config.getoption
    if rig.name == "virtual":
        b = rig.farm.create("prov-dut", blank=True, replace=True)
        b.set_world(wifi_fast_ms=50, wifi_scan_ms=200)
        b.start()
        port, board, hw = b.serial_url, "virtual", b.info()["hw_id"]
        firmware = tmp_path / "ESP32_GENERIC-fake-v1.29.0.bin"        # the stand-in image, named as such
        firmware.write_bytes(espimage.fake_micropython_firmware())
    else:
        if not opt("hil_firmware"):
            pytest.skip("the serial rig needs a MicroPython firmware file to flash: --firmware ESP32_GENERIC-….bin")
        rig.close()                                                    # the port is ours for esptool
        port, board, hw, firmware = rig.port, rig.board_name, None, opt("hil_firmware")
    url = fleet.url.replace("127.0.0.1", opt("hil_fleet_host"))
    job = FlashJob(port=port, firmware=str(firmware), board=board, role="call_button", fleet_url=url,
                   wifi_ssid=opt("hil_wifi_ssid"), wifi_password=opt("hil_wifi_password"), site="hil-lab")
    verify = True
    if fleet.pki is not None:
        job.ca, job.ca_pem = "/fleet-ca.der", fleet.pki.ca_der          # the device CA, pinned on the board
        verify = ssl.create_default_context(cafile=str(fleet.pki.ca_path))
    with Fleet(fleet.url, fleet.token, verify=verify) as f:
        res = provision_board(job, f, hello_timeout=120)
    assert res.ok, "%s\n  fix: %s\n%s" % (res.error, res.fix, res.console[-2000:])
    assert hw is None or res.hw_id == hw
    dev = fleet.device(res.device_id)
    assert dev["hw_id"] == res.hw_id and dev["site"] == "hil-lab" and dev["last_hello"]
    assert "supervisor: start" in res.console
