# Virtual board: the unix port's `os` with the ESP32 extras (uname, sync, dupterm) and the
# virtual board's own mount point hidden from listings of the root.
import sys
_p = sys.path
sys.path = ()
try:
    from os import *      # noqa: F401,F403
    import os as _bos
finally:
    sys.path = _p
    del _p
import _vb
from collections import namedtuple

_HIDDEN = (".shims",)
_FLASH = (_bos.getenv("VBOARD_FLASH") or "").rstrip("/")
_raw = _bos.VfsPosix()     # no root: takes host paths (see rename)
_uname = namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))


def _is_root(path):
    if path is None or path == "":
        return _bos.getcwd() == "/"
    return path.rstrip("/") == ""


def ilistdir(path=None):
    # (name, type, inode, size) like littlefs on the ESP32 (VfsPosix gives no size)
    base = "" if path is None else path.rstrip("/")
    root = _is_root(path)
    for e in (_bos.ilistdir() if path is None else _bos.ilistdir(path)):
        if root and e[0] in _HIDDEN:
            continue
        if len(e) >= 4:
            yield e
            continue
        size = 0
        if e[1] == 0x8000:
            try:
                size = _bos.stat((base + "/" + e[0]) if base else e[0])[6]
            except OSError:
                pass
        yield (e[0], e[1], e[2], size)


def listdir(path=None):
    names = _bos.listdir() if path is None else _bos.listdir(path)
    if not _is_root(path):
        return names
    return [n for n in names if n not in _HIDDEN]


def _host_path(path):
    if not path.startswith("/"):
        path = _bos.getcwd().rstrip("/") + "/" + path
    parts = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if parts:
                parts.pop()
            continue
        parts.append(p)
    if parts and parts[0] in _HIDDEN:
        return None
    return _FLASH + "/" + "/".join(parts)


def rename(old_path, new_path):
    # The unix port's VfsPosix mounted with a root builds both paths in one buffer, so its
    # rename() renames the new path onto itself and reports success. Rename with host paths
    # through a root-less VfsPosix instead: atomic replace, as littlefs does on the ESP32.
    a = _host_path(old_path) if _FLASH else None
    b = _host_path(new_path) if _FLASH else None
    if a is None or b is None:
        return _bos.rename(old_path, new_path)
    _raw.rename(a, b)


def uname():
    chip = _vb.chip.get("name", "esp32")
    ver = "%d.%d.%d" % sys.implementation.version[:3]
    return _uname(chip, chip, ver, "v%s on virtual board %s" % (ver, _vb.NAME),
                  "%s (virtual) with %s" % (_vb.board.get("title", "Generic ESP32 module"), chip.upper()))


def sync():
    pass


def dupterm(stream_object=None, index=0):
    return None
