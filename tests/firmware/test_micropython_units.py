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
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# fixtures of the heap gate (heapgate.py) used here: fake_fleet, tls_fleet, mpy_trees
from heapgate import budget, fake_fleet, run_scenario, tls_fleet  # noqa: E402,F401
from heapgate import heap_trees as mpy_trees  # noqa: E402,F401
from mprun import APP, MP, REPO, flash_lib, run_mp  # noqa: E402,F401
from boards import espimage  # noqa: E402


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


@pytest.mark.parametrize("bundle,kb", [("romfs", (72,)), ("mpy", (88, 60))], ids=["romfs", "mpy"])
def test_runtime_scenario_fits_72k_heap(tmp_path, tls_fleet, mpy_trees, bundle, kb):
    """boot -> enroll -> hello -> events acked -> sleep, over HTTPS with the fleet's certificate
    verified, with the firmware in 72 KB of heap (the target) as a ROMFS image, and in 88 KB
    (the smallest that passes: 84) as .mpy files (heapgate.py: the harness's heap measured and
    added on top)."""
    # first boot (enroll, hello, events, sleep), then a timer wake: two boots, same flash
    figs = run_scenario(tmp_path, tls_fleet, mpy_trees, "scenario_heap",
                        ("test_runtime_scenario_fits_in_72k_heap", "test_second_wake_fits_too"),
                        bundle=bundle, heap=budget(*kb))
    assert [f["what"] for f in figs] == ["first boot", "timer wake"]
