"""Shared pieces of the provisioning tests: a real fleet process, a technician with an API token,
blank virtual boards on their RFC 2217 serial ports, and the stand-in firmware file."""

import subprocess
import sys

from boards import espimage

WIFI = {"ssid": "site-ap", "password": "s3cret-wifi-pass"}
FAST_WIFI = {"wifi_fast_ms": 50, "wifi_scan_ms": 200, "wifi_loss_ms": 200}
FIRMWARE_NAME = "ESP32_GENERIC-fake-v1.29.0.bin"      # a stand-in: real headers, no code (boards/espimage.py)


def write_firmware(path, chip="esp32", app_size=64 * 1024):
    path.write_bytes(espimage.fake_micropython_firmware(chip=chip, app_size=app_size))
    return path


def provision(*args, env=None, timeout=300):
    """Run the `provision` CLI as a technician would; returns the CompletedProcess."""
    import os
    e = dict(os.environ, **(env or {}))
    e.setdefault("COLUMNS", "200")
    return subprocess.run([sys.executable, "-m", "provisioning.cli"] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=e)
