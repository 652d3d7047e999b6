"""The `vboard` CLI end to end: it starts a background daemon for VBOARD_HOME and drives the
boards through it; the Python API can reach the same boards with BoardFarm.connect()."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from boards.flashimage import read_file
from boards.virtual import BoardFarm

from agentkit import AGENT


@pytest.fixture
def vboard(tmp_path):
    home = tmp_path / "vbhome"
    env = dict(os.environ, VBOARD_HOME=str(home))

    def run(*args, ok=True, timeout=60):
        r = subprocess.run([sys.executable, "-m", "boards.virtual.cli"] + list(args), capture_output=True,
                           text=True, env=env, timeout=timeout)
        if ok:
            assert r.returncode == 0, "vboard %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr)
        return r

    run.home = home
    yield run
    run("stop", "--all", ok=False)


def test_cli_end_to_end(vboard):
    assert "esp32-devkitc" in vboard("boards").stdout
    r = vboard("create", "cb-1", "--role", "call_button", "--fleet", "http://127.0.0.1:9", "--token", "et_1",
               "--firmware", str(AGENT))
    assert "created cb-1" in r.stdout and "vboard up cb-1" in r.stdout
    cfg = json.loads(read_file(vboard.home / "cb-1" / "flash" / "flash.bin", "/config.json"))   # a LittleFS image
    assert cfg["enroll_token"] == "et_1" and cfg["fleet_url"].startswith("http://127.0.0.1:")
    assert re.search(r"cb-1\s+off\s+call_button", vboard("list").stdout)
    r = vboard("up", "cb-1", "--wait", "READY")
    assert "cb-1: running" in r.stdout
    assert "pressed" in vboard("press", "cb-1", "--ms", "100").stdout
    deadline = time.monotonic() + 5
    while "led          on" not in vboard("status", "cb-1").stdout:
        assert time.monotonic() < deadline, vboard("status", "cb-1").stdout
        time.sleep(0.1)
    out = vboard("status", "cb-1").stdout
    assert "reset_cause  PWRON_RESET" in out and "console_url  socket://127.0.0.1:" in out
    assert "distance_cm=40.0" in vboard("set", "cb-1", "distance_cm=40", "temp_c=31.5").stdout
    assert "down" in vboard("wifi", "cb-1", "down").stdout
    assert "cut" in vboard("link", "cb-1", "down", "--mode", "reset").stdout
    status = json.loads(vboard("status", "cb-1", "--json").stdout)[0]
    assert status["world"]["temp_c"] == 31.5 and status["wifi"]["ap_up"] is False
    assert status["link"] == {"up": False, "mode": "reset"}
    vboard("wifi", "cb-1", "up")
    vboard("link", "cb-1", "up")
    # the Python API reaches the daemon's boards too
    farm = BoardFarm.connect(vboard.home, autostart=False)
    b = farm.board("cb-1")
    assert b.state == "running" and b.led is True
    b.expect("IRQ level=0 n=1", since=0)
    log = vboard("log", "cb-1", "-n", "0").stdout
    assert "READY button=1" in log and "IRQ level=0 n=1" in log
    assert "mpremote connect socket://127.0.0.1:" in vboard("console", "cb-1").stdout
    assert "cb-1: off" in vboard("power", "cb-1", "cut").stdout
    assert "cb-1: running" in vboard("power", "cb-1", "on").stdout
    b.expect("BOOT rc=1", since=0)
    assert "host stopped" in vboard("stop", "--all").stdout
    assert re.search(r"cb-1\s+off", vboard("list").stdout)
    assert "destroyed" in vboard("destroy", "cb-1", "--yes").stdout
    assert not (vboard.home / "cb-1").exists()


def test_cli_errors_say_what_to_do(vboard):
    r = vboard("press", "ghost", ok=False)
    assert r.returncode != 0 and "vboard up" in r.stderr                 # no daemon running
    r = vboard("create", "x", "--role", "call_button", "--fleet", "http://h", "--board", "esp99", ok=False)
    assert r.returncode != 0 and "unknown board 'esp99'" in r.stderr and "esp32-devkitc" in r.stderr
    vboard("create", "x", "--role", "beacon", "--fleet", "http://h", "--firmware", str(AGENT))
    r = vboard("press", "x", ok=False)
    assert r.returncode != 0 and "is off" in r.stderr and "vboard up x" in r.stderr
    r = vboard("set", "x", "humidity=3", ok=False)
    assert r.returncode != 0 and "unknown world key" in r.stderr
    r = vboard("create", "x", "--role", "beacon", "--fleet", "http://h", "--firmware", str(AGENT), ok=False)
    assert "already exists" in r.stderr and "--force" in r.stderr
    r = vboard("up", "nobody", ok=False)
    assert "no virtual board 'nobody'" in r.stderr
