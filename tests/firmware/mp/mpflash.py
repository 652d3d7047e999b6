# The unit tests' flash: a LittleFS2 on the virtual board's flash chip (_vbflash.py: NOR
# rules, wear counters, power cuts between operations) over a file, mounted at the test's
# root as the ESP32 image mounts its vfs partition. Loaded by mptest.setup_root() when the
# runner gives FW_FLASH.
import os
import struct
import vfs
import _vbflash

_SIZE = 1 << 20
_dev = [None, None, None]       # Region, path, mount point


def mount(path, root):
    if _dev[0] is not None:
        return
    try:
        os.stat(path)
    except OSError:
        with open(path, "wb") as f:
            for _ in range(_SIZE // 4096):
                f.write(b"\xff" * 4096)
        with open(path + ".wear", "wb") as f:
            f.write(b"VBWEAR1\0" + bytes(24 + 4 * (_SIZE // 4096)))
    fl = _vbflash.Flash(path)
    dev = _vbflash.Region(fl, 0, fl.size)
    try:
        vfs.mount(dev, root)
    except OSError:
        vfs.VfsLfs2.mkfs(dev)
        vfs.mount(vfs.VfsLfs2(dev), root)
    _dev[:] = [dev, path, root]


def flash():
    """The flash chip (_vbflash.Flash)."""
    return _dev[0].flash


def wear():
    """(erases, bytes programmed) on the flash so far."""
    w = flash().w
    w.seek(8)
    programmed, erases = struct.unpack("<QQ", w.read(16))
    return erases, programmed


def power_cut(after_ops):
    """The power goes just before the after_ops-th next erase or program: that operation raises
    _vbflash.PowerCut (a BaseException: firmware handlers do not catch it) and nothing reaches
    the flash any more until power_on()."""
    flash().cut_after = after_ops


def power_on():
    """After a power cut: a new chip state and a fresh mount, as after a reset. What the old
    mount held in RAM is gone; the flash keeps what was programmed."""
    dev, path, root = _dev
    dev.flash.dead = True           # finalisers of the old mount's files write nowhere
    try:
        vfs.umount(root)
    except OSError:
        pass
    _dev[0] = None
    mount(path, root)
