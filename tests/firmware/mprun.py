"""Running a MicroPython script of tests/firmware/mp under the unix port, as the firmware tests do.

``run_mp(script, name, tmp_path, fleet_url)`` runs ``micropython -X heapsize=H script NAME`` with

- MICROPYPATH = firmware/app : tests/firmware/mp : tests/firmware/mp/fakehw : <_vbflash.py> : .frozen
- FW_FLASH    = a fresh flash file: mptest mounts a LittleFS2 on it at /flash (the board's
                filesystem, with the virtual board's flash chip, _vbflash.py)
- FLEET_URL   = the fleet (a FakeFleet on 127.0.0.1)
- FAKE_RTC    = a file that keeps fake RTC memory across runs in the same test
- SIG_CASE    = a signature computed here by CPython devproto, to cross-check

Used by test_micropython_units.py (one process per MicroPython test) and heapgate.py.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
APP = REPO / "firmware" / "app"
MP = HERE / "mp"
FAKEHW = MP / "fakehw"
FLASH_MODULE = REPO / "boards" / "virtual" / "shims" / "_vbflash.py"
for _p in (str(REPO), str(APP), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import devproto  # noqa: E402
from boards.tools import tool_path  # noqa: E402

# Tools of the project's own install (boards.tools): a missing one fails each test saying how to
# install it, never skips it.
DEFAULT_HEAP = "1m"


def _sig_case():
    secret = "5a" * 32
    case = {"secret": secret, "method": "POST", "path": "/api/v1/device/events",
            "ts": 1796031157, "nonce": "0123456789abcdef", "body": '{"stream":7,"events":[]}'}
    case["sig"] = devproto.sign(secret, case["method"], case["path"], case["ts"], case["nonce"],
                                case["body"].encode())
    return json.dumps(case)


def flash_lib(tmp_path):
    """A directory with the virtual board's flash chip module alone (the shims directory holds
    machine.py, os.py, ... that must not shadow the FAKE hardware here)."""
    lib = tmp_path / "flashlib"
    lib.mkdir(exist_ok=True)
    shutil.copy(FLASH_MODULE, lib / FLASH_MODULE.name)
    return lib


def interpreter():
    """The project's MicroPython (its virtualenv's), or FW_MICROPYTHON: another build of the unix
    port to run the same tests on, e.g. a 32-bit single-precision one, as an ESP32 computes
    (docs/firmware.md "Tests on a 32-bit build")."""
    return os.getenv("FW_MICROPYTHON") or tool_path("micropython")


def run_mp(script, name, tmp_path, fleet_url, heap=None, extra_env=None, timeout=180):
    env = dict(os.environ)
    lib = flash_lib(tmp_path)
    env.update({
        "MICROPYPATH": os.pathsep.join([str(APP), str(MP), str(FAKEHW), str(lib), ".frozen"]),
        # (run_mp callers may replace MICROPYPATH, e.g. with compiled .mpy trees)
        "FW_FLASH": str(tmp_path / "flash.bin"),    # the board's LittleFS, mounted at /flash
        "FW_SRC": str(REPO / "firmware"),
        "FLEET_URL": fleet_url,
        "FAKE_RTC": str(tmp_path / "rtc.bin"),
        "SIG_CASE": _sig_case(),
    })
    if extra_env:
        env.update(extra_env)
    path = script if isinstance(script, Path) else MP / script
    heap = heap or DEFAULT_HEAP
    return subprocess.run([interpreter(), "-X", "heapsize=" + heap, str(path), name],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=timeout)
