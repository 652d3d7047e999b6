"""The developer's quick path: copy the application files that changed onto a running board over
its serial port with mpremote's transport, then reset it.

A board may be running its application with the watchdog armed, or be in deep sleep (its UART
dead). So: pulse EN (RTS) to wake and restart it; when boot.py has spoken, Ctrl-C stops main.py
(main.py stretches the watchdog for a person); mpremote's raw REPL then soft-resets, and after a
soft reset boot.py stretches the watchdog for a deploy session and main.py does not run
(docs/firmware.md "Soft resets and the watchdog"). Files are compared by SHA-256 computed on the
board (mpremote fs_hashfile); only changed ones are written; /config.json (the device's identity
and secret) is never touched. Finally EN again: the board starts the new code.
"""

import hashlib
import re
import time

from . import errors, ports

KEEP = ("/config.json",)


def _pulse_en(serial):
    serial.dtr = False
    serial.rts = True           # EN low (the DevKit's auto-reset circuit: RTS on, DTR off)
    time.sleep(0.1)
    serial.rts = False          # EN high, IO0 high: a normal boot


def _stop_app(t, timeout=20.0):
    """Wake the board, let boot.py start, interrupt main.py: returns the console text seen."""
    s = t.serial
    saved = s.timeout
    s.timeout = 0.05
    try:
        return _interrupt(s, timeout)
    finally:
        s.timeout = saved              # mpremote's transport reads blocking


def _interrupt(s, timeout):
    _pulse_en(s)
    text = b""
    deadline = time.monotonic() + timeout
    started = None
    while time.monotonic() < deadline:
        text += s.read(4096)
        if started is None and re.search(rb"boot: |MicroPython|>>> ", text):
            started = time.monotonic()
        if started is not None:
            if text.rstrip().endswith(b">>>"):
                return text.decode("utf-8", "replace")
            s.write(b"\x03")
            time.sleep(0.1)
    raise errors.ProvisionError("the board did not stop its application for the REPL within %d s" % timeout,
                                fix="Press EN on the board and run the command again.")


def deploy(port, board, firmware_dir=None, dry_run=False, on_file=None):
    """Copy changed application files; returns {"copied": [...], "unchanged": [...], "bytes": n}."""
    from mpremote.transport_serial import SerialTransport
    ports.check(port)
    try:
        t = SerialTransport(port, baudrate=115200)
    except Exception as e:
        raise ports.classify_open_error(port, e) or errors.PortBusy("cannot open %s: %s" % (port, e))
    try:
        _stop_app(t)
        t.enter_raw_repl(soft_reset=True)
        import json
        cfg = json.loads(t.fs_readfile("/config.json"))
        slot = t.eval("[p for p in __import__('sys').path if p.startswith('/app_')]")
        slot = (slot[0][len("/app_"):] if slot else "a")
        from boards import build_fs, compile_app
        files = compile_app(build_fs(board, cfg, firmware_dir=firmware_dir, slot=slot))
        on_board = board_hashes(t, "/app_%s" % slot)
        copied, unchanged, nbytes = [], [], 0
        for path, data in sorted(files.items()):
            if path in KEEP:
                continue
            if on_board.get(path) == hashlib.sha256(data).hexdigest():
                unchanged.append(path)
                continue
            if not dry_run:
                parent = path.rsplit("/", 1)[0]
                if parent and not t.fs_exists(parent):
                    _mkdirs(t, parent)
                t.fs_writefile(path, data)
                nbytes += len(data)
            copied.append(path)
            if on_file:
                on_file(path, len(data))
        t.exit_raw_repl()
        _pulse_en(t.serial)
        return {"copied": copied, "unchanged": unchanged, "bytes": nbytes, "slot": slot}
    except errors.ProvisionError:
        raise
    except Exception as e:
        raise errors.ConnectionLost("deploy to %s failed: %s" % (port, e))
    finally:
        try:
            t.close()
        except Exception:
            pass


# One round trip for every hash (at 115200 baud each command costs): walk the app slot and the
# top-level files on the board, print "path sha256" per file.
_HASHES = """
import os, hashlib, binascii
def _h(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            b = f.read(512)
            if not b:
                break
            h.update(b)
    print(p, binascii.hexlify(h.digest()).decode())
def _w(d):
    for e in os.ilistdir(d):
        p = d + '/' + e[0]
        if e[1] == 0x4000:
            _w(p)
        else:
            _h(p)
for p in ('/boot.py', '/main.py', '/board.json'):
    try:
        _h(p)
    except OSError:
        pass
try:
    _w(%r)
except OSError:
    pass
"""


def board_hashes(t, slot_dir):
    out = t.exec(_HASHES % slot_dir).decode()
    return dict(line.split(" ", 1) for line in out.split("\r\n") if " " in line.strip())


def _mkdirs(t, path):
    cur = ""
    for part in path.strip("/").split("/"):
        cur += "/" + part
        if not t.fs_exists(cur):
            t.fs_mkdir(cur)
