"""The real firmware's boot path on a virtual board: a broken install backs off instead of
resetting every 2 s and writing flash each time; an mpremote deploy is neither cut short by the
application's watchdog (it survives a soft reset on the ESP32) nor counted as a failed boot."""

import json
import re
import subprocess
import sys
from pathlib import Path

from boards import build_fs

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
CONFIG = {"role": "smart_bin", "role_module": "generic", "fleet_url": "http://127.0.0.1:9",
          "wifi": {"ssid": "lab-ap", "password": "lab-pass"}, "enroll_token": "et_boot"}


def _state(b):
    st = json.loads(b.read_file("/state/boot.json"))
    return {"tries": st.get("tries", 0), "pending": st.get("pending", False), "slot": st.get("slot")}


def test_broken_install_backs_off_in_deep_sleep_and_says_why(farm):
    files = build_fs("virtual", dict(CONFIG, power="battery"), firmware_dir=FIRMWARE)
    files = {k: v for k, v in files.items() if not k.startswith("/app_a/supervisor")}   # a broken install
    b = farm.create("broken-install", files=files, replace=True)
    b.set_world(wifi_scan_ms=50)
    b.start()
    sleeps = []
    for wake in range(4):
        b.expect(r"E main: the application in slot a cannot start \(ImportError: [^)]*\); failed boots: (\d+)\. "
                 r"Reinstall the firmware", timeout=15)
        info = b.wait_state("sleeping", timeout=10)
        sleeps.append(info["sleep"]["ms"])
        flash = info["flash"]
        if wake == 1:
            after_first = flash["programmed"]
        b.fast_forward()
    assert sleeps == [2000, 4000, 8000, 16000], sleeps             # growing, in deep sleep
    assert [x["reset_cause"] for x in b.boots()][1:4] == ["DEEPSLEEP_RESET"] * 3
    # per wake only boot.json's failure count changes (crash.txt is written once)
    per_wake = (b.info()["flash"]["programmed"] - after_first) / 2
    assert per_wake < 1500, per_wake
    assert b.read_file("/state/crash.txt").startswith(b"main: ImportError")
    b.power_cut()


def _mpremote(url, *args):
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", url] + list(args), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, "mpremote %s failed:\n%s\n%s" % (" ".join(args), r.stdout, r.stderr)
    return r.stdout


def test_mpremote_deploy_is_not_cut_by_the_watchdog_nor_a_failed_boot(farm, tmp_path):
    b = farm.create("deploy-wdt", files=build_fs("virtual", dict(CONFIG, power="mains"), firmware_dir=FIRMWARE),
                    replace=True)
    b.set_world(wifi_scan_ms=50)
    b.start()
    b.expect(r"supervisor: start", timeout=15)
    b.wait_for(lambda x: x.info()["wdt_ms"] == 30000, 10, what="the application's watchdog")
    assert _state(b)["pending"] is True                              # not reached the fleet yet
    # mpremote soft-resets into the raw REPL: the watchdog keeps running, boot.py stretches it
    assert "SOFT 5" in _mpremote(b.console_url, "exec", "import machine; print('SOFT', machine.reset_cause())")
    assert b.info()["wdt_ms"] == 600000
    src = tmp_path / "note.txt"
    src.write_text("deployed\n")
    _mpremote(b.console_url, "fs", "cp", str(src), ":note.txt")
    assert b.read_file("/note.txt") == b"deployed\n"
    assert _state(b) == {"tries": 0, "pending": False, "slot": "a"}   # soft boots are not trials
    _mpremote(b.console_url, "reset")                                # machine.reset(): HARD_RESET
    b.expect(r"boot: slot=a app=\S+ tries=0 reset=hard", timeout=15)
    assert re.search(r"soft reset: watchdog 600 s", b.console_text())
    b.power_cut()
