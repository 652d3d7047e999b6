"""The virtual board speaks the ESP32 ROM loader on an RFC 2217 serial port: unmodified esptool 5
(its CLI and its Python API) and mpremote use it as they use a DevKitC on /dev/ttyUSB0.

The firmware flashed here is boards.espimage.fake_micropython_firmware(): a stand-in for
MicroPython's ESP32_GENERIC .bin with real image headers, checksums and app description, but no
machine code (no firmware download is possible offline; the virtual board runs the unix port).

esptool's CLI runs unmodified in a subprocess. One run (`chip-id`) goes through plain pyserial,
as a user's `esptool --port rfc2217://…` does; the others through the provisioning tool's RFC
2217 client (provisioning/serialopen.py: the same wire protocol without pyserial's ~0.25 s of
renegotiation per command), so they test the ROM model, not pyserial's waits."""

import hashlib
import re
import subprocess
import sys
import time

import pytest

from agentkit import AGENT, FAST_WIFI
from boards import espimage, load_board, partitions
from boards.flashimage import littlefs_image

PLAIN = [sys.executable, "-m", "esptool"]
FAST = [sys.executable, "-c", "from provisioning import serialopen; serialopen.use_for_urls(); "
        "import runpy; runpy.run_module('esptool', run_name='__main__')"]


def esptool(url, *args, timeout=120, check=True, cli=FAST):
    r = subprocess.run(cli + ["--port", url] + list(args), capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, "esptool %s failed:\n%s\n%s" % (" ".join(args), r.stdout, r.stderr)
    return r


def fs_image(files):
    vfs = [e for e in partitions.layout(load_board("virtual")) if e["name"] == "vfs"][0]
    return vfs["offset"], littlefs_image(files, vfs["size"])


@pytest.fixture
def blank(farm, request):
    made = []

    def make(name=None, **kw):
        name = name or re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:60]
        b = farm.create(name, blank=True, replace=True, **kw)
        b.set_world(**FAST_WIFI)
        made.append(b)
        b.start()
        return b

    yield make
    for b in made:
        try:
            b.power_cut()
        except Exception:
            pass


def test_blank_board_loops_in_the_rom_until_something_is_flashed(blank):
    b = blank()
    b.expect(r"rst:0x10 \(RTCWDT_RTC_RESET\),boot:0x13", timeout=10)    # the RTC watchdog, again and again
    text = b.console_text()
    assert text.count("flash read err, 1000") >= 2 and "ets_main.c 371" in text
    info = b.info()
    assert info["state"] == "bootloop" and "erased" in info["rom"]["why"]


def test_esptool_cli_identifies_the_chip_mac_and_flash(blank, tmp_path):
    b = blank(mac="240ac4123456")
    url = b.serial_url
    out = esptool(url, "chip-id", cli=PLAIN).stdout                    # as a user runs it: plain pyserial
    assert "Detecting chip type... ESP32" in out and "ESP32-D0WD-V3 (revision v3.0)" in out
    assert "Crystal frequency:  40MHz" in out
    assert "MAC:                24:0a:c4:12:34:56" in out
    assert "Stub flasher running." in out and "Hard resetting via RTS pin" in out
    out = esptool(url, "flash-id").stdout
    assert "Manufacturer: ef" in out and "Device: 4016" in out and "Detected flash size: 4MB" in out
    out = esptool(url, "--no-stub", "read-mac").stdout                  # the ROM alone, no stub
    assert "24:0a:c4:12:34:56" in out and "Uploading stub" not in out
    # the console shows what a DevKitC prints: download mode after esptool's reset
    assert "boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download" in b.console_text()


def test_write_flash_verify_read_back_and_boot_micropython(blank, tmp_path):
    b = blank()
    firmware = tmp_path / "ESP32_GENERIC-fake-v1.29.0.bin"        # the stand-in, named as such
    firmware.write_bytes(espimage.fake_micropython_firmware())
    off, image = fs_image({"/boot.py": b"print('flashed by esptool: boot.py runs')\n"})
    fs = tmp_path / "fs.bin"
    fs.write_bytes(image)
    url = b.serial_url
    b.mark()
    out = esptool(url, "--baud", "460800", "write-flash", "0x1000", str(firmware), hex(off), str(fs)).stdout
    assert "Changing baud rate to 460800" in out
    assert out.count("Hash of data verified.") == 2
    # esptool's hard reset (RTS) boots the flashed image: the unix interpreter on the new filesystem
    b.expect("flashed by esptool: boot.py runs", timeout=20)
    assert b.info()["state"] == "running" and b.info()["rom"] is None
    out = esptool(url, "verify-flash", "0x1000", str(firmware), hex(off), str(fs)).stdout
    assert out.count("Verification successful (digest matched).") == 2
    back = tmp_path / "back.bin"
    esptool(url, "--baud", "460800", "read-flash", "0x1000", str(len(firmware.read_bytes())), str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(firmware.read_bytes()).digest()


def test_no_stub_writes_through_the_rom_and_erase_flash_leaves_nothing_to_boot(blank, tmp_path):
    b = blank()
    firmware = tmp_path / "ESP32_GENERIC-fake-v1.29.0.bin"
    firmware.write_bytes(espimage.fake_micropython_firmware(app_size=16 * 1024))
    url = b.serial_url
    out = esptool(url, "--no-stub", "--baud", "460800", "write-flash", "0x1000", str(firmware)).stdout   # the ROM changes speed too
    assert "Hash of data verified." in out and "Stub flasher" not in out
    assert "Took" in out                                        # the ROM erases up front, as it says
    first = tmp_path / "first.bin"
    esptool(url, "--no-stub", "read-flash", "0x1000", "256", str(first))     # READ_FLASH_SLOW, 64 B a time
    assert first.read_bytes() == firmware.read_bytes()[:256]
    b.expect(r"(?s)MicroPython|Performing initial setup", timeout=20)     # the image boots (fs erased: formatted)
    out = esptool(url, "erase-flash", timeout=300).stdout
    assert "Flash memory erased successfully" in out
    b.mark()
    b.expect("flash read err, 1000", timeout=10)


def test_esptool_python_api_flashes_like_the_cli(blank, tmp_path):
    import esptool as et
    from provisioning.serialopen import open_port
    b = blank()
    data = espimage.fake_micropython_firmware(app_size=32 * 1024)
    esp = et.detect_chip(open_port(b.serial_url), baud=115200)           # as the provisioning tool opens it
    try:
        assert esp.CHIP_NAME == "ESP32"
        assert ":".join("%02x" % x for x in esp.read_mac()) == b.info()["mac"]
        esp = et.run_stub(esp)
        esp.change_baud(460800)
        et.attach_flash(esp)
        et.write_flash(esp, [(0x1000, data)])
        et.verify_flash(esp, [(0x1000, data)])
        assert esp.flash_md5sum(0x1000, len(data)) == hashlib.md5(data).hexdigest()
        b.mark()
        et.reset_chip(esp, "hard-reset")
    finally:
        esp._port.close()
    b.expect(r"MicroPython|Performing initial setup", timeout=20)


def test_a_board_without_the_auto_reset_circuit_needs_its_boot_button(blank):
    b = blank(auto_reset=False)
    boots = len(b.boots())
    r = esptool(b.serial_url, "--connect-attempts", "1", "chip-id", check=False)
    assert r.returncode != 0 and "Failed to connect to Espressif device" in r.stderr
    assert len(b.boots()) == boots                 # DTR/RTS reach nothing: no reset at all
    # what a technician does: hold BOOT (IO0 low), tap EN, let BOOT go
    b.hold_boot(True)
    b.reset()
    b.hold_boot(False)
    b.expect("waiting for download", timeout=5)
    out = esptool(b.serial_url, "--before", "no-reset", "--after", "no-reset", "chip-id").stdout
    assert "ESP32-D0WD-V3" in out


def test_line_speed_is_the_baud_rate_the_client_sets(blank, tmp_path):
    """Bytes never cross the virtual cable faster than 10 bits per byte at the set baud rate."""
    b = blank()
    back = tmp_path / "r.bin"
    t = time.monotonic()
    esptool(b.serial_url, "read-flash", "0x0", "0x8000", str(back))           # 32 KB at 115200
    took = time.monotonic() - t
    assert took >= 0x8000 * 10 / 115200                                        # >= 2.8 s
    assert back.read_bytes() == b"\xff" * 0x8000


def test_mpremote_shares_the_serial_port_and_does_not_reset_the_board(farm, request):
    b = farm.create("mpr-" + request.node.name[-20:], config={"role": "call_button", "fleet_url": "http://127.0.0.1:9",
                    "wifi": {"ssid": "lab-ap", "password": "lab-pass"}}, firmware_dir=AGENT, replace=True)
    b.set_world(**FAST_WIFI)
    b.start()
    b.expect(r"READY button=", timeout=15)
    boots = len(b.boots())
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", b.serial_url, "resume", "fs", "ls"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "board.json" in r.stdout and "config.json" in r.stdout
    assert len(b.boots()) == boots                 # opening the port (DTR, RTS on) resets nothing
    # a second program on the same port is refused while the first holds it
    import socket
    host, port = b.serial_url[len("rfc2217://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s1:
        s1.recv(64)                                # the telnet negotiation: s1 holds the port
        with socket.create_connection((host, int(port)), timeout=5) as s2:
            assert s2.recv(200).startswith(b"VBOARD-PORT-BUSY ")
    b.power_cut()
