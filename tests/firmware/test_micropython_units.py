"""Runs the firmware unit tests under MicroPython (the unix port), one process per test.

Each tests/firmware/mp/test_*.py defines test_* functions and ends with
``mptest.main(globals())``. This runner finds them with ``ast`` (the scripts are never
imported into CPython), runs ``micropython -X heapsize=H script NAME`` with

- MICROPYPATH = firmware/app : tests/firmware/mp : tests/firmware/mp/fakehw : <_vbflash.py> : .frozen
- FW_FLASH    = a fresh flash file: mptest mounts a LittleFS2 on it at /flash (the board's
                filesystem, with the virtual board's flash chip, _vbflash.py)
- FLEET_URL   = a FakeFleet (protocol-shaped CPython server) on 127.0.0.1
- FAKE_RTC    = a file that keeps fake RTC memory across runs in the same test
- SIG_CASE    = a signature computed here by CPython devproto, to cross-check

and turns the result into a pytest outcome, with the MicroPython output on failure.
"""

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
APP = REPO / "firmware" / "app"
MP = HERE / "mp"
FAKEHW = MP / "fakehw"
FLASH_MODULE = REPO / "boards" / "virtual" / "shims" / "_vbflash.py"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(APP))

import devproto  # noqa: E402
from boards import espimage  # noqa: E402
from boards.tools import tool_path  # noqa: E402
from fakefleet import FakeFleet  # noqa: E402

# Tools of the project's own install (boards.tools): a missing one fails each test saying how to
# install it, never skips it.
DEFAULT_HEAP = "1m"
TARGET_HEAP = int(os.getenv("FW_TARGET_HEAP") or 96 * 1024)  # see docs/firmware.md


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


def flash_lib(tmp_path):
    """A directory with the virtual board's flash chip module alone (the shims directory holds
    machine.py, os.py, ... that must not shadow the FAKE hardware here)."""
    lib = tmp_path / "flashlib"
    lib.mkdir(exist_ok=True)
    shutil.copy(FLASH_MODULE, lib / FLASH_MODULE.name)
    return lib


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
    return subprocess.run([tool_path("micropython"), "-X", "heapsize=" + heap, str(path), name],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def ota_case(fake_fleet, tmp_path_factory):
    """A release key and signed releases served by the FakeFleet (/_fake/files/), for the
    test_ota_*.py scripts: a JSON file named by OTA_CASE (docs/ota.md)."""
    from fleet.ota import releases, signing
    d = tmp_path_factory.mktemp("ota")
    kid = signing.generate(d / "keys")
    key = d / "keys" / (kid + ".pem")
    case = {"kid": kid, "base": fake_fleet.url + "/_fake/files/", "now": int(time.time()),
            "n": signing.load_public((d / "keys" / (kid + ".pub.pem")).read_bytes())[1].hex()}
    image = d / "fw.bin"
    image.write_bytes(espimage.stand_in("2.0.0"))
    for name, kind, version, sv in (("good", "app", "9.0.0", 1), ("fw", "firmware", "2.0.0", 1)):
        releases.build(d / name, kind, version, sv, ["*"], ["*"], 86400, image=image if kind == "firmware" else None)
        releases.sign(d / name, key)
        art = (d / name / "artifact.bin").read_bytes()
        fake_fleet.files[name + ".bin"] = art
        fake_fleet.files[name + ".env"] = (d / name / "manifest.signed.json").read_bytes()
        case[name] = {"id": "%s-%s" % (kind, version), "kind": kind, "version": version,
                      "size": len(art), "sha256": hashlib.sha256(art).hexdigest(),
                      "manifest": case["base"] + name + ".env", "url": case["base"] + name + ".bin"}
    bad = bytearray(fake_fleet.files["good.bin"])
    bad[len(bad) // 2] ^= 0x01                 # one byte changed on the way
    fake_fleet.files["tampered.bin"] = bytes(bad)
    path = d / "case.json"
    path.write_text(json.dumps(case))
    return str(path)


@pytest.mark.parametrize("script,name", CASES, ids=["%s::%s" % (s[:-3], n) for s, n in CASES])
def test_firmware_unit(script, name, tmp_path, fake_fleet, request):
    extra = {"OTA_CASE": request.getfixturevalue("ota_case")} if script.startswith("test_ota_") else None
    p = run_mp(script, name, tmp_path, fake_fleet.url, extra_env=extra)
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


def _compile_tree(src, dst, files=None):
    """mpy-cross every .py under src (or the listed files) into dst, keeping the layout."""
    for f in files or sorted(src.rglob("*.py")):
        out = dst / f.relative_to(src).with_suffix(".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([tool_path("mpy-cross"), "-s", f.name, "-o", str(out), str(f)], check=True)


@pytest.fixture
def mpy_trees():
    """(app, harness) directories for .mpy trees, with paths about as short as a board's
    ("/app_a/..."): every module's __file__ is an interned string, and pytest's tmp_path
    would make each ~50 characters longer (~1.5 KB of heap a board does not spend)."""
    d = Path(tempfile.mkdtemp(prefix="fw"))
    yield d / "a", d / "h"
    shutil.rmtree(d, ignore_errors=True)


def harness_heap(tmp_path, fleet_url, path, scenario):
    """Heap of what is Python here but C (or absent) on a board: the mptest harness, the FAKE
    machine/network/esp32/time modules and the scenario script itself, measured by a probe that
    imports them the same way (mptest.main does not run tests under "--probe"). Firmware
    modules the harness also uses are imported first: they are not counted."""
    probe = tmp_path / "probe.py"
    # The FAKE time module (C on a board) is imported first, by asyncio: measured on its own.
    probe.write_text("import gc\ngc.collect()\nt = gc.mem_alloc()\nimport time\ngc.collect()\n"
                     "t = gc.mem_alloc() - t\n"
                     "import gc, os, sys, json, asyncio, store, log\n"
                     "asyncio.Event(); asyncio.ThreadSafeFlag; asyncio.open_connection\n"
                     "gc.collect()\na = gc.mem_alloc()\n"
                     "import mptest, machine, network, esp32, %s\n"
                     "gc.collect()\nprint('HARNESS', gc.mem_alloc() - a + t)\n" % scenario)
    p = run_mp(probe, "--probe", tmp_path, fleet_url, heap="1m", extra_env={"MICROPYPATH": path, **HEAP_FS})
    assert p.returncode == 0, p.stdout + p.stderr
    n = int(p.stdout.split("HARNESS")[1].split()[0])
    assert 0 < n < 32 * 1024
    return n


# The heap scenarios keep the firmware on a host directory (VfsPosix), as before the flash
# became LittleFS: the LittleFS block device is Python here (C on a board) and its names
# push the unix port's qstr count past 621, where a 7.3 KB pool is allocated in one piece --
# a step that belongs to this harness, not to the firmware (see docs/firmware.md, Heap).
HEAP_FS = {"FW_FLASH": "", "FW_ROOT": "flash"}


def run_heap_scenario(tmp_path, fake_fleet, mpy_trees, scenario, names, extra_heap=0):
    """Run `names` of mp/<scenario>.py, every module compiled by mpy-cross, in TARGET_HEAP
    (+ extra_heap) plus what the harness takes (harness_heap), one after the other on the
    same flash. Fails with the console if any does not PASS."""
    app, harness = mpy_trees
    _compile_tree(APP, app)
    _compile_tree(MP, harness, [MP / "mptest.py", MP / (scenario + ".py")])
    _compile_tree(FAKEHW, harness)
    _compile_tree(FLASH_MODULE.parent, harness, [FLASH_MODULE])   # the flash chip: C on a board
    path = os.pathsep.join([str(app), str(harness), ".frozen"])
    harness_bytes = harness_heap(tmp_path, fake_fleet.url, path, scenario)
    limit = TARGET_HEAP + extra_heap + harness_bytes
    runner = tmp_path / "run_scenario.py"
    runner.write_text("import %s\n" % scenario)
    for name in names:
        p = run_mp(runner, name, tmp_path, fake_fleet.url, heap="%d" % limit,
                   extra_env={"MICROPYPATH": path, "HEAP_LIMIT": str(limit), **HEAP_FS})
        out = "harness %d bytes, heap %d\n%s\n%s" % (harness_bytes, limit, p.stdout[-6000:],
                                                     p.stderr[-3000:])
        assert p.returncode == 0 and ("PASS %s" % name) in p.stdout, out
        print(out)


def test_runtime_scenario_fits_96k_heap(tmp_path, fake_fleet, mpy_trees):
    """boot -> enroll -> hello -> events acked -> sleep, with the firmware in 96 KB of heap.

    The firmware runs as .mpy files (as on a board). The harness, the scenario script and
    the FAKE hardware modules are Python here but C (or absent) on a board, so their heap
    (harness_heap) is added on top of the 96 KB."""
    # first boot (enroll, hello, events, sleep), then a timer wake: two boots, same flash
    run_heap_scenario(tmp_path, fake_fleet, mpy_trees, "scenario_heap",
                      ("test_runtime_scenario_fits_in_96k_heap", "test_second_wake_fits_too"))
