# Installing a verified app bundle (format: devproto/ota.py) into the inactive slot directory
# (docs/ota.md "Install"). Never the running slot: the caller names the other one, and only
# when the running slot is confirmed (so the other is not the fallback). app.json goes first
# out and last in: while the slot is being written boot.py sees it as invalid, so a power cut
# here leaves a slot nobody boots, and the install starts again from the bundle.
# Loaded only while an update runs.
import os
import struct
import hashlib
import store
from devproto import ota


class BadBundle(Exception):
    pass


def _clear(d):
    """Remove everything under directory d (logical path), app.json first."""
    store.remove(d + "/app.json")
    try:
        names = os.listdir(store.path(d))
    except OSError:
        return
    for n in names:
        p = d + "/" + n
        if not store.remove(p):
            _clear(p)
            try:
                os.rmdir(store.path(p))
            except OSError:
                pass


def _read(f, n):
    b = f.read(n)
    if len(b) != n:
        raise BadBundle("truncated")
    return b


def install(bundle, slot, buf):
    """Unpack bundle (logical path of a verified bundle file) into /app_<slot>; each file's
    hash is checked after it is written. Returns the version in its app.json. OSError (disk
    full) and BadBundle leave the slot invalid (no app.json)."""
    d = "/app_" + slot
    mv = memoryview(buf)
    _clear(d)
    store.makedirs(d)
    with open(store.path(bundle), "rb") as f:
        if f.read(4) != ota.BUNDLE_MAGIC:
            raise BadBundle("magic")
        while True:
            n = struct.unpack("<H", _read(f, 2))[0]
            if n == 0:
                break
            name = _read(f, n).decode()
            if name.startswith("/") or ".." in name:
                raise BadBundle(name)
            size = struct.unpack("<L", _read(f, 4))[0]
            digest = _read(f, 32)
            i = name.rfind("/")
            if i > 0:
                store.makedirs(d + "/" + name[:i])
            p = store.path(d + "/" + name)
            left = size
            with open(p, "wb") as out:
                while left:
                    k = f.readinto(mv[:min(left, len(buf))])
                    if not k:
                        raise BadBundle("truncated")
                    out.write(mv[:k])
                    left -= k
            h = hashlib.sha256()
            with open(p, "rb") as back:        # what is on flash now, read back
                while True:
                    k = back.readinto(buf)
                    if not k:
                        break
                    h.update(mv[:k])
            if h.digest() != digest:
                raise BadBundle(name)
    with open(store.path(d + "/app.json")) as f:
        import json
        return json.load(f).get("version")
