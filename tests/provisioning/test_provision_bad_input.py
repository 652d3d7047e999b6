"""Bad input while provisioning: each gives a clear error that names the fix, and loses nothing
(a refused board is left as it was and can be flashed)."""

import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from provisioning import FlashJob, errors, flash_board, provision_board
from provisioning.fleetapi import Fleet
from provkit import WIFI, provision, write_firmware


def job(b, firmware, **kw):
    args = dict(port=b.serial_url, firmware=str(firmware), board="virtual", role="call_button",
                fleet_url="http://127.0.0.1:9", wifi_ssid=WIFI["ssid"], wifi_password=WIFI["password"])
    args.update(kw)
    return FlashJob(**args)


def still_blank(b):
    b.mark()
    b.expect("flash read err, 1000", timeout=10)      # the ROM still finds nothing: nothing was written
    return True


def test_wrong_chip_image_is_refused_before_writing(blank, tmp_path):
    b = blank()
    c3 = write_firmware(tmp_path / "ESP32_GENERIC_C3-fake-v1.29.0.bin", chip="esp32c3")
    res = flash_board(job(b, c3))
    assert not res.ok and res.code == "wrong_chip"
    assert "built for ESP32-C3, but the board's chip is ESP32" in res.error
    assert "firmware image built for this chip" in res.fix
    assert still_blank(b)


def test_flash_too_small_for_the_partition_table(blank, firmware):
    b = blank(flash_size=2 << 20)
    res = flash_board(job(b, firmware))
    assert not res.ok and res.code == "flash_too_small"
    assert "need 4 MB of flash" in res.error and "this module has 2 MB" in res.error
    assert still_blank(b)


def test_not_in_download_mode_names_the_boot_button(blank, firmware):
    b = blank(auto_reset=False)
    t = time.monotonic()
    res = flash_board(job(b, firmware))
    assert not res.ok and res.code == "no_download_mode"
    assert "hold BOOT and tap EN" in res.fix and "--baud 115200" in res.fix
    # the technician does what the fix says, and the same command works
    b.hold_boot(True)
    b.reset()
    b.hold_boot(False)
    res = flash_board(job(b, firmware, wait_app=False))
    assert res.ok, res.error


def test_port_busy_names_the_program_holding_it(blank, firmware):
    b = blank()
    host, port = b.serial_url[len("rfc2217://"):].split(":")
    holder = subprocess.Popen([sys.executable, "-c", "import socket, time; s = socket.create_connection((%r, %s)); "
                               "print('held', flush=True); time.sleep(60)" % (host, port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        res = flash_board(job(b, firmware))
        assert not res.ok and res.code == "port_busy"
        assert "held by process %d" % holder.pid in res.error
        assert "close it" in res.fix
    finally:
        holder.kill()
        holder.wait()


def test_unplugged_mid_flash_resumes_and_the_board_stays_flashable(blank, tmp_path):
    b = blank()
    big = write_firmware(tmp_path / "ESP32_GENERIC-fake-v1.29.0.bin", app_size=160 * 1024)
    cut = threading.Event()

    def progress(done, total):
        if not cut.is_set() and total and done > total // 3:
            cut.set()
            threading.Thread(target=b.unplug).start()        # the cable comes out mid-write

    res = flash_board(job(b, big, baud=115200), on_progress=progress)
    assert not res.ok and res.code == "connection_lost" and res.stage == "write"
    assert "run the same command" in res.fix
    b.start()                                                # plugged in again
    b.expect(r"invalid header|flash read err|esp_image|partition table", timeout=10)   # half-written: no boot
    lines = []
    res = flash_board(job(b, big), on_stage=lines.append)
    assert res.ok, res.error
    assert "supervisor: start" in res.console or "boot:" in res.console


def _tech_fleet(fleet):
    return Fleet(fleet.url, fleet.tech_token)


def test_expired_and_wrong_role_tokens_are_refused_before_flashing(fleet, blank, firmware):
    b = blank()
    expired = fleet.api("POST", "/api/v1/enrollment-tokens", json={"expires_in_s": 1, "role": "call_button"})[0]
    time.sleep(1.5)
    bin_token = fleet.enrollment_token(role="smart_bin")
    with _tech_fleet(fleet) as f:
        res = provision_board(job(b, firmware, fleet_url=fleet.url, enroll_token=expired["token"]), f)
        assert not res.ok and res.code == "enroll_refused" and "is expired" in res.error
        res = provision_board(job(b, firmware, fleet_url=fleet.url, enroll_token=bin_token), f)
        assert not res.ok and res.code == "enroll_refused"
        assert "is for role 'smart_bin', not 'call_button'" in res.error
        assert "new enrollment token" in res.fix
    assert still_blank(b)
    # both refusals are failures the technician finds in the fleet, with the fix
    runs = httpx.get(fleet.url + "/api/v1/provisioning/runs?result=open", timeout=10,
                     headers={"Authorization": "Bearer " + fleet.tech_token}).json()
    refused = [r for r in runs if r["port"] == b.serial_url]
    assert [r["code"] for r in refused] == ["enroll_refused", "enroll_refused"]
    assert refused[1]["stage"] == "enroll" and "is expired" in refused[1]["error"] and "new enrollment token" in refused[1]["fix"]


def test_fleet_unreachable_and_a_bad_api_token(blank, firmware, fleet):
    b = blank()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = "http://127.0.0.1:%d" % s.getsockname()[1]
    s.close()
    with Fleet(dead, "ft_whatever") as f:
        res = provision_board(job(b, firmware, fleet_url=dead), f)
    assert not res.ok and res.code == "fleet_unreachable" and "cannot reach the fleet" in res.error
    r = provision("flash", "--port", b.serial_url, "--firmware", str(firmware), "--board", "virtual",
                  "--role", "call_button", "--fleet", fleet.url, "--token", "ft_not-a-token",
                  "--wifi-ssid", WIFI["ssid"])
    assert r.returncode == 1
    assert "refused your API token" in r.stderr and "fix:" in r.stderr
    assert still_blank(b)
