# Virtual board launcher (MicroPython): run as `micropython -i _vblaunch.py` by the host.
# Puts the ESP32 shims first on the import path, connects to the host, mounts the LittleFS
# filesystem of the board's flash file at / as the ESP32 image's frozen _boot.py does, then
# runs /boot.py and /main.py as an ESP32 does after reset (main.py only if boot.py succeeded
# and the board is not coming back from a soft reset in raw-REPL mode). When they return,
# `-i` hands over to the REPL.


def _mount_vfs(os, vfs, esp32):
    # ports/esp32/modules/_boot.py + flashbdev.py + inisetup.py: the "vfs" data partition,
    # mounted with vfs.mount(bdev, "/") (LittleFS2 found by its superblock, 4096-byte
    # blocks); unformatted and erased -> format it and write a default boot.py; unformatted
    # but not erased -> the port's "filesystem appears to be corrupted" loop.
    bdev = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    bdev = bdev[0] if bdev else None
    if bdev is None:
        return False
    try:
        vfs.mount(bdev, "/")
        return True
    except OSError:
        pass
    buf = bytearray(bdev.ioctl(5, 0))
    bdev.readblocks(0, buf)
    for b in buf:
        if b != 0xFF:
            import time
            while True:
                print("The filesystem appears to be corrupted. If you had important data there, you\n"
                      "may want to make a flash snapshot to try to recover it. Otherwise, perform\n"
                      "factory reprogramming of MicroPython firmware (completely erase flash, followed\n"
                      "by firmware programming).\n")
                time.sleep(3)
    print("Performing initial setup")
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), "/")
    with open("/boot.py", "w") as f:
        f.write("# This file is executed on every boot (including wake-boot from deepsleep)\n"
                "#import esp\n#esp.osdebug(None)\n#import webrepl\n#webrepl.start()\n")
    return True


def _vb_boot():
    import sys
    # Not this file's directory (sys.path[0]): its os.py and time.py are the shims. asyncio
    # first, with the interpreter's own ticks: its C task queue orders them with the unix
    # port's 2**62 period, so it must never see the ESP32's 2**30 (shims/time.py).
    sys.path[:] = [".frozen"]
    import os
    import vfs
    import asyncio  # noqa: F401
    flash = os.getenv("VBOARD_FLASH")          # the host file that is the board's flash chip
    shims = os.getenv("VBOARD_SHIMS")
    cut = flash.rfind("/")
    os.umount("/")                              # nothing of the host from here on
    os.mount(os.VfsPosix(flash[:cut]), "/.flash")
    os.mount(os.VfsPosix(shims), "/.shims")
    sys.path[:] = ["/.shims", "", ".frozen", "/lib"]
    sys.modules.pop("os", None)     # later imports get the shim, not the built-in
    import _vb
    _vb.flash_path = "/.flash" + flash[cut:]
    _vb.start()
    _vb.install_asyncio()
    # The ESP32 has these modules in flash; here they live on the heap. Load them all now so
    # their share is fixed before boot.py and can be added to the heap the board was given.
    for m in ("machine", "network", "esp32", "bluetooth", "esp", "os", "time", "_vbflash"):
        __import__(m)
    if sys.modules["esp32"]._table_or_none() is None:
        # the second-stage bootloader finds no valid table at 0x8000: it never starts the app
        print("E (%d) boot: Failed to verify partition table\r\nE (%d) boot: load partition table error!"
              % (30, 31))
        _vb.send("no_partition_table")
        _vb.halt()
    app = sys.modules["esp32"]._bootloader(_vb.boot.get("reset_cause") == 5)   # no bootloader on a soft reset
    _vb.send("app_partition", label=app)
    if not _mount_vfs(os, vfs, sys.modules["esp32"]):
        print("vboard: no vfs partition on this flash: no filesystem")
    os.chdir("/")
    import gc
    gc.collect()
    if os.getenv("VBOARD_CALIBRATE"):
        print("VBOARD-HEAP %d" % gc.mem_alloc())
        sys.exit(0)
    _vb.send("heap", alloc=gc.mem_alloc(), free=gc.mem_free())
    g = globals()

    def run(fn):
        # 1: ran (or absent), 0: raised, -1: interrupted (Ctrl-C)
        try:
            os.stat(fn)
        except OSError:
            return 1
        try:
            execfile(fn, g)
            return 1
        except SystemExit:
            _vb.send("soft_reset")
            _vb.halt()
        except KeyboardInterrupt as e:
            sys.print_exception(e)
            return -1
        except BaseException as e:
            sys.print_exception(e)
            return 0

    ret = run("boot.py")
    if ret == 1 and not _vb.boot.get("raw"):
        run("main.py")
    _vb.send("repl")


_vb_boot()
del _vb_boot
del _mount_vfs
