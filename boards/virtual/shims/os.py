# Virtual board: the unix port's `os` with the ESP32 extras (uname, sync, dupterm) and the
# virtual board's own mount points hidden from listings of the root. The filesystem itself is
# the ESP32's: LittleFS2 (vfs.VfsLfs2) on the board's flash, mounted at / by the launcher.
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

# The simulator's mount points: MicroPython lists mount points with the root's entries.
_HIDDEN = (".shims", ".flash")
_uname = namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))


def _is_root(path):
    if path is None or path == "":
        return _bos.getcwd() == "/"
    return path.rstrip("/") == ""


def ilistdir(path=None):
    root = _is_root(path)
    for e in (_bos.ilistdir() if path is None else _bos.ilistdir(path)):
        if root and e[0] in _HIDDEN:
            continue
        yield e


def listdir(path=None):
    names = _bos.listdir() if path is None else _bos.listdir(path)
    if not _is_root(path):
        return names
    return [n for n in names if n not in _HIDDEN]


def uname():
    # release: the running image's version (an OTA image's esp_app_desc_t, shims/_vbota.py);
    # the interpreter's when the partition holds no image
    chip = _vb.chip.get("name", "esp32")
    ver = "%d.%d.%d" % sys.implementation.version[:3]
    try:
        import esp32
        import _vbota
        p = esp32.Partition(esp32.Partition.RUNNING)
        ver = _vbota.image_version(p._dev.flash, p._e) or ver
    except (OSError, ImportError, ValueError):
        pass
    return _uname(chip, chip, ver, "v%s on virtual board %s" % (ver, _vb.NAME),
                  "%s (virtual) with %s" % (_vb.board.get("title", "Generic ESP32 module"), chip.upper()))


def sync():
    pass


def dupterm(stream_object=None, index=0):
    return None
