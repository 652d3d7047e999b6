"""Heap gates: a firmware scenario run as on a board, in the heap a board has (docs/firmware.md "Heap").

A scenario is a MicroPython script tests/firmware/mp/scenario_heap*.py: test functions that
write a board's files (mptest.fleet() adds the fleet's URL and, for HTTPS, its CA), run
supervisor.Runtime() and end with mptest.heap_report(what). run_scenario():

- compiles firmware/app with mpy-cross as boards.compile_app does (a board runs .mpy; each
  module's source name is its path when loaded, which is also its __file__: one interned name);
- bundles it as a board would hold it: "mpy" (.mpy files in a directory, as on the board's
  LittleFS) or "romfs" (one ROMFS image mounted at /rom with vfs.VfsRom and appended to
  sys.path, as the ESP32 port mounts a "romfs" partition: extmod/vfs.c
  mp_vfs_mount_romfs_protected; the image is flash on a board, a bytearray here, so its size
  is added to the heap);
- measures what the harness takes (harness_heap: mptest, the scenario script, the FAKE
  machine/network/esp32/time modules -- C or absent on a board) and runs each test in its own
  `micropython -X heapsize=TARGET_HEAP + harness (+ image)` process, one after the other on
  the same files and RTC memory;
- fails with the console if a test does not pass, or if anything on the way ran out of heap (a
  MemoryError a task survived by retrying), else returns the figures each
  heap_report printed: heap total, free at the end, the sampled peak (trace_ms, benchmarks
  only), interned names in all and the firmware's own (all minus the harness's).

The gates run against the FakeFleet over HTTPS (fixture tls_fleet: a test CA made at test time
with hil_tests.pki; the board verifies the fleet's certificate with the unix port's ssl, as the
firmware's connect.py sets it up), so TLS is part of every scenario.

A new role's gate: mp/scenario_heap_<role>.py (scenario_heap_cb.py is the model) and

    from heapgate import run_scenario

    def test_<role>_heap(tmp_path, tls_fleet, heap_trees):
        figs = run_scenario(tmp_path, tls_fleet, heap_trees, "scenario_heap_<role>",
                            ("test_first_boot_fits", "test_<wake>_fits"))

(fixtures fake_fleet, tls_fleet, heap_trees come from conftest.py).
"""

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import mprun
from mprun import APP, FAKEHW, FLASH_MODULE, MP, run_mp, tool_path

# The heap of an ESP32 (56 KB on ESP32_GENERIC) as the 64-bit unix port needs it: the target.
# Each gate states the budget its scenario is held to now, per bundle, and the smallest heap
# measured (benchmarks/heap.py); FW_TARGET_HEAP (bytes) overrides them all, for experiments.
TARGET_HEAP = 72 * 1024  # see docs/firmware.md "Heap"
# The roles' ROMFS gates on the 64-bit port: 2 KB over the target. Each role's smallest heap is
# the target on a quiet host, but how the tasks and TLS reads interleave follows the host's timing,
# and so does where the holes fall: with the suite's 3 workers on 2 cores, gates at 72 failed 2
# runs in 17 (a cover's first boot, the update boot). The 32-bit gate, the chip's 56 KB, is the truth.
ROMFS_GATE_KB = 74
# On a 32-bit build (FW_MICROPYTHON) objects, name pools and GC blocks are the chip's size: there
# the target is the chip's own GC heap at start.
CHIP_HEAP = 56 * 1024


def budget(kb, kb32=None):
    """A gate's heap: kb KB on the 64-bit port; on a 32-bit build kb32 KB (default: the chip's
    56); FW_TARGET_HEAP (bytes) when set. Asked when the test runs (the interpreter's word size)."""
    if os.getenv("FW_TARGET_HEAP"):
        return int(os.getenv("FW_TARGET_HEAP"))
    if word_bits() == 32:
        return kb32 * 1024 if kb32 else CHIP_HEAP
    return kb * 1024

# The heap scenarios keep the board's files in a host directory (VfsPosix), not on the LittleFS
# flash of the other tests: the LittleFS block device (_vbflash.py) is Python here (C on a board),
# and its code and names would be charged to the firmware. The FAKE machine keeps no logs of pin
# and PWM writes, and each I2C write once (FAKE_RECORD=0): they would grow while the scenario
# runs, after the harness was measured -- a call button's LED and tune, a smart bin re-arming its
# motion interrupt every 100 ms (a 1 KB list made anew) -- and a board has no such logs.
HEAP_FS = {"FW_FLASH": "", "FW_ROOT": "flash", "FAKE_RECORD": "0"}

_QSTR = re.compile(r"qstr pool: n_pool=(\d+), n_qstr=(\d+)")
_HEAP = re.compile(r"HEAP ([^:\n]+): total=(\d+) free=(\d+) peak=(-?\d+)")


def compile_tree(src, dst, files=None, board_dir=None):
    """mpy-cross every .py under src (or the listed files) into dst, keeping the layout. Each
    module's source name is the path it is imported from -- dst's, or board_dir's ("/rom" for a
    ROMFS image) -- the same string as its __file__, as boards.compile_app makes it."""
    for f in files or sorted(src.rglob("*.py")):
        rel = f.relative_to(src).with_suffix(".mpy")
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        name = "%s/%s" % (board_dir, rel.as_posix()) if board_dir else str(out)
        subprocess.run([tool_path("mpy-cross"), "-s", name, "-o", str(out), str(f)], check=True)


def _romfs_prelude(image):
    # What the ESP32 port does at start-up when the flash has a "romfs" partition (extmod/vfs.c
    # mp_vfs_mount_romfs_protected: VfsRom over the partition, mounted at /rom, "/rom" and
    # "/rom/lib" appended to sys.path). The partition is memory-mapped flash there; here its
    # bytes are read into one bytearray first, while the heap is empty.
    return ("import os, sys, vfs\n_rom = bytearray(os.stat(%r)[6])\n"
            "with open(%r, 'rb') as _f:\n    _f.readinto(_rom)\n"
            "vfs.mount(vfs.VfsRom(_rom), '/rom')\nsys.path.append('/rom')\nsys.path.append('/rom/lib')\n"
            "del _rom, _f\n" % (str(image), str(image)))


def word_bits():
    """64 for the project's unix port, 32 for a 32-bit build given in FW_MICROPYTHON (an ESP32's
    word: its objects, name pools and GC blocks are half the size; bytecode and strings are not)."""
    return _word_bits(mprun.interpreter())


@functools.lru_cache(maxsize=None)
def _word_bits(interpreter):
    p = subprocess.run([interpreter, "-c", "import sys; print(sys.maxsize > 1 << 31)"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.strip() in ("True", "False"), p.stdout + p.stderr
    return 64 if p.stdout.strip() == "True" else 32


def gc_block():
    """py/gc.c's allocation unit: 4 words."""
    return word_bits() // 2


# Interned-name pools. The unix port allocates them as the names grow, each twice the last
# (20, 40, 80, 160, 320, 640 ... entries; py/qstr.c qstr_add: a 6-word header + a pointer, a
# 2-byte hash and a 1-byte length per entry -- 48 + 11 bytes per entry on the 64-bit port, 24 + 7
# on a 32-bit build -- in GC blocks). A firmware with 301..620 names of its own -- every role so
# far -- has the pools up to 320 entries on a board: fw_pools() bytes here (7,136 on 64-bit).
# The harness's ~180 names (ROM on a board) would push it past 620, where a 640-entry pool is made
# in one piece (7.1 KB on 64-bit) -- late, in a fragmented heap -- that a board never makes. So the
# harness modules are imported first, then placeholder names grow the pools to 640 entries
# (_pregrow), all charged to the harness, and the firmware is charged fw_pools(); its own names
# then fill the free entries. A firmware whose names do not fit there fails (a board would grow
# its pools too).
def _pool_bytes(n):
    w, b = word_bits() // 8, gc_block()
    return (6 * w + (w + 3) * n + b - 1) // b * b


def fw_pools():
    return sum(_pool_bytes(n) for n in (20, 40, 80, 160, 320))


def _pregrow():
    # names until the 640-entry pool is made: the one allocation above the 320-entry pool's
    return ("gc.collect()\n_i = 0\n"
            "while True:\n    _a = gc.mem_alloc()\n    getattr(sys, 'q%%d' %% _i, None)\n    _i += 1\n"
            "    if gc.mem_alloc() - _a > %d:\n        break\n"
            "del _a, _i\n" % ((_pool_bytes(320) + _pool_bytes(640)) // 2))
# The harness modules (the FAKE time comes with asyncio), first in the runner and the probe.
_HARNESS = "import gc, sys, os, json, asyncio\nimport machine, network, esp32, mptest\n"


def harness_heap(tmp_path, fleet_url, path, scenario, prelude="", env=None):
    """(bytes, names) of what is Python here but C (or absent) on a board: the mptest harness,
    the FAKE machine/network/esp32/time modules, the name pools grown with placeholders
    (_PREGROW) and the scenario script itself, measured by a probe that imports them the same
    way (mptest.main runs no test under "--probe"). asyncio and the firmware modules the
    harness also uses are imported apart: they are not counted."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import gc, micropython\ngc.collect()\nt = gc.mem_alloc()\nmicropython.qstr_info()\n"
        "import time\ngc.collect()\nt = gc.mem_alloc() - t\nmicropython.qstr_info()\n"
        "import sys, os, json, asyncio\nasyncio.Event(); asyncio.ThreadSafeFlag; asyncio.open_connection\n"
        "gc.collect()\nm = gc.mem_alloc()\nmicropython.qstr_info()\n" + _HARNESS + _pregrow() +
        "gc.collect()\nh = gc.mem_alloc() - m\nmicropython.qstr_info()\n" + prelude +
        "import store, log\ngc.collect()\nb = gc.mem_alloc()\nmicropython.qstr_info()\n"
        "import %s\ngc.collect()\nprint('HARNESS', t + h + gc.mem_alloc() - b)\nmicropython.qstr_info()\n"
        % scenario)
    p = run_mp(probe, "--probe", tmp_path, fleet_url, heap="1m",
               extra_env={"MICROPYPATH": path, **HEAP_FS, **(env or {})})
    assert p.returncode == 0, p.stdout + p.stderr
    n = int(p.stdout.split("HARNESS")[1].split()[0])
    q = [int(m.group(2)) for m in _QSTR.finditer(p.stdout)]
    assert 0 < n < 48 * 1024 and len(q) == 6, p.stdout
    return n, (q[1] - q[0]) + (q[3] - q[2]) + (q[5] - q[4])


def run_scenario(tmp_path, fleet, trees, scenario, names, extra_heap=0, bundle="mpy", heap=None,
                 trace_ms=0, env=None):
    """Run `names` of mp/<scenario>.py in TARGET_HEAP (or `heap`) + extra_heap + what the harness
    takes, the firmware bundled as `bundle` ("mpy" or "romfs"), one after the other on the same
    files. Fails with the console if any does not PASS; returns one dict of figures per
    heap_report: what, total, free, held (the firmware's, name pools included), peak (-1
    untraced), names, fw_names, harness, heap (the
    firmware's budget), image (ROMFS bytes), limit (the -X heapsize). Fails, too, when the
    firmware's own interned names outgrow the pools (more than 620, or than the pools have left)."""
    app, harness = trees
    env = dict(env or {})
    prelude = ""
    image = 0
    if bundle == "romfs":
        from mpremote.romfs import make_romfs
        compile_tree(APP, app, board_dir="/rom")
        img = app.parent / "app.romfs"
        img.write_bytes(make_romfs(str(app), mpy_cross=False))
        image = img.stat().st_size
        prelude = _romfs_prelude(img)
        path = os.pathsep.join([str(harness), ".frozen"])
    elif bundle == "mpy":
        compile_tree(APP, app)
        path = os.pathsep.join([str(app), str(harness), ".frozen"])
    else:
        raise ValueError("bundle is 'mpy' or 'romfs', not %r" % bundle)
    compile_tree(MP, harness, [MP / "mptest.py", MP / (scenario + ".py")])
    compile_tree(FAKEHW, harness)
    compile_tree(FLASH_MODULE.parent, harness, [FLASH_MODULE])   # the flash chip: C on a board
    if getattr(fleet, "ca_der_path", None):
        env["FW_CA"] = str(fleet.ca_der_path)
    harness_bytes, harness_names = harness_heap(tmp_path, fleet.url, path, scenario, prelude, env)
    fw_heap = (heap or budget(TARGET_HEAP // 1024)) + extra_heap
    # the image: its bytearray's data plus the object (in GC blocks); the name pools a board
    # makes for the firmware: charged to it (fw_pools)
    b = gc_block()
    limit = fw_heap + harness_bytes + (image + b - 1) // b * b + 2 * b * bool(image) - fw_pools()
    runner = tmp_path / "run_scenario.py"
    runner.write_text("%s%s%simport %s\n" % (_HARNESS, _pregrow(), prelude, scenario))
    if trace_ms:
        env["HEAP_TRACE_MS"] = str(trace_ms)
    figures = []
    for name in names:
        p = run_mp(runner, name, tmp_path, fleet.url, heap="%d" % limit,
                   extra_env={"MICROPYPATH": path, "HEAP_LIMIT": str(limit), **HEAP_FS, **env})
        out = "%s: harness %d bytes %d names, image %d, heap %d\n%s\n%s" % (
            name, harness_bytes, harness_names, image, limit, p.stdout[-6000:], p.stderr[-3000:])
        assert p.returncode == 0 and ("PASS %s" % name) in p.stdout, out
        # fits: no task ran out of heap on the way, even one that recovered by retrying
        assert "MemoryError" not in p.stdout, out
        for m in _HEAP.finditer(p.stdout):
            q = _QSTR.search(p.stdout, m.end())
            n = int(q.group(2)) if q else -1
            assert q and int(q.group(1)) <= 6 and n - harness_names <= 620, (
                "%s: the firmware's %d interned names of its own (%d in all) outgrow the name pools "
                "a board would have for them\n%s" % (name, n - harness_names, n, out))
            peak = int(m.group(4))
            total, free = int(m.group(2)), int(m.group(3))
            figures.append({"test": name, "what": m.group(1), "total": total, "free": free,
                            # what the firmware holds after a collection, and at its sampled peak
                            "held": total - free - harness_bytes - image + fw_pools(),
                            "peak": peak - harness_bytes - image + fw_pools() if peak >= 0 else -1,
                            "names": n, "fw_names": n - harness_names, "harness": harness_bytes,
                            "heap": fw_heap, "image": image, "limit": limit, "bundle": bundle})
        print(out)
    return figures


# ---- fixtures (conftest.py imports them) -------------------------------------------------

@pytest.fixture(scope="session")
def fake_fleet():
    from fakefleet import FakeFleet
    f = FakeFleet().start()
    yield f
    f.stop()


@pytest.fixture(scope="session")
def tls_fleet(tmp_path_factory):
    """The FakeFleet over HTTPS (start_tls_fleet)."""
    f = start_tls_fleet(tmp_path_factory.mktemp("pki"))
    yield f
    f.stop()


def start_tls_fleet(directory):
    """A started FakeFleet over HTTPS: a server certificate from a test CA made now in
    directory (hil_tests.pki); .ca_der_path is the CA certificate a board pins."""
    from fakefleet import FakeFleet
    from hil_tests.pki import make_pki
    pki = make_pki(Path(directory))
    f = FakeFleet(tls=(str(pki.cert_path), str(pki.key_path)))
    f.ca_der_path = pki.directory / "device-ca.der"
    f.ca_der_path.write_bytes(pki.ca_der)
    f.start()
    return f


def serve_ota_release(fleet, directory):
    """A release key and a signed app release 9.0.0 made in directory and served by the
    FakeFleet (/_fake/files/cbota.*), for scenario_heap_cb_ota: (case file for OTA_CASE, offer)."""
    import hashlib
    import json
    import time
    from fleet.ota import releases, signing
    d = Path(directory)
    kid = signing.generate(d / "keys")
    base = fleet.url + "/_fake/files/"
    releases.build(d / "rel", "app", "9.0.0", 1, ["*"], ["*"], 86400)
    releases.sign(d / "rel", d / "keys" / (kid + ".pem"))
    art = (d / "rel" / "artifact.bin").read_bytes()
    fleet.files["cbota.bin"] = art
    fleet.files["cbota.env"] = (d / "rel" / "manifest.signed.json").read_bytes()
    offer = {"id": "app-9.0.0-%d" % time.time(), "kind": "app", "version": "9.0.0", "size": len(art),
             "sha256": hashlib.sha256(art).hexdigest(), "manifest": base + "cbota.env",
             "url": base + "cbota.bin", "gate_s": 30}
    case = d / "case.json"
    case.write_text(json.dumps({"kid": kid, "n": signing.load_public(
        (d / "keys" / (kid + ".pub.pem")).read_bytes())[1].hex()}))
    return str(case), offer


@pytest.fixture
def heap_trees():
    """(app, harness) directories for the compiled trees, with paths about as short as a board's
    ("/app_a/..."): every module's __file__ is an interned string, and pytest's tmp_path would
    make each ~50 characters longer (~1.5 KB of heap a board does not spend)."""
    d = Path(tempfile.mkdtemp(prefix="fw"))
    yield d / "a", d / "h"
    shutil.rmtree(d, ignore_errors=True)


def beacon_settings():
    """What the FakeFleet sends a facility beacon as down.beacon in the heap scenarios (an
    asset's): a public URL and id to advertise every 10 s, a schedule that says lit now (the
    district's UTC+8), the shortest debounce."""
    import time
    local_minute = (int(time.time()) // 60 + 480) % 1440
    return {"url": "https://xl.gov/a/K7QM4XPA", "uid": 4242, "adv_ms": 10000,
            "lamp_on_min": (local_minute - 120) % 1440, "lamp_off_min": (local_minute + 120) % 1440,
            "utc_offset_min": 480, "lamp_debounce_s": 10, "dark_pct": 20}
