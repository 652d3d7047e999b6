# Virtual board launcher (MicroPython): run as `micropython -i _vblaunch.py` by the host.
# Makes the board's flash directory the filesystem root, puts the ESP32 shims first on the
# import path, connects to the host, then runs /boot.py and /main.py as an ESP32 does after
# reset (main.py only if boot.py succeeded and the board is not coming back from a soft reset
# in raw-REPL mode). When they return, `-i` hands over to the REPL.


def _vb_boot():
    import os
    import sys
    flash = os.getenv("VBOARD_FLASH")
    shims = os.getenv("VBOARD_SHIMS")
    os.umount("/")
    os.mount(os.VfsPosix(flash), "/")
    os.mount(os.VfsPosix(shims), "/.shims")
    os.chdir("/")
    sys.path[:] = ["/.shims", "", ".frozen", "/lib"]
    sys.modules.pop("os", None)     # later imports get the shim, not the built-in
    import _vb
    _vb.start()
    _vb.install_asyncio()
    # The ESP32 has these modules in flash; here they live on the heap. Load them all now so
    # their share is fixed before boot.py and can be added to the heap the board was given.
    for m in ("machine", "network", "esp32", "bluetooth", "esp", "os", "time"):
        __import__(m)
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
