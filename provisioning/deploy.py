"""The developer's quick path: copy the application files that changed onto a running board over
its serial port with mpremote's transport, then reset it.

The board's application is stopped for its raw REPL and restarted after (replsession.py: a board
may be running with the watchdog armed, or asleep). Files are compared by SHA-256 computed on the
board (mpremote fs_hashfile); only changed ones are written; /config.json (the device's identity
and secret) is never touched. The board restarts into the new code.
"""

import hashlib
import json

from .replsession import app_repl

KEEP = ("/config.json",)


def deploy(port, board, firmware_dir=None, dry_run=False, on_file=None):
    """Copy changed application files; returns {"copied": [...], "unchanged": [...], "bytes": n}."""
    with app_repl(port, "deploy to %s" % port) as t:
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
    return {"copied": copied, "unchanged": unchanged, "bytes": nbytes, "slot": slot}


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
