# Tiny test harness for firmware unit tests that run under MicroPython.
# A test script defines test_* functions (plain or async) and ends with
#   mptest.main(globals())
# `micropython test_x.py NAME` runs one test, with no name it runs all. Each test
# prints "PASS name" or "FAIL name" plus the traceback; the exit code is non-zero if
# any failed. The pytest runner (tests/firmware/test_micropython_units.py) runs one
# process per test with FW_ROOT set to a fresh temporary directory (the flash root).
import sys
import os
import asyncio

FLASH = os.getenv("FW_FLASH")          # a flash file: the tests run on LittleFS, as a board
ROOT = "/flash" if FLASH else (os.getenv("FW_ROOT") or "/tmp/fwtest")   # else a host directory


def setup_root():
    """Point the firmware's store at the temporary flash root (a LittleFS with FW_FLASH,
    mounted by mpflash.py)."""
    import store
    if FLASH:
        import mpflash
        mpflash.mount(FLASH, ROOT)
    else:
        try:
            os.mkdir(ROOT)
        except OSError:
            pass
    store.ROOT = ROOT
    store.makedirs("/state")
    return ROOT


def eq(a, b, msg=""):
    if a != b:
        raise AssertionError("%r != %r %s" % (a, b, msg))


def ok(cond, msg=""):
    if not cond:
        raise AssertionError(msg or "condition is false")


def approx(a, b, tol=1e-6, msg=""):
    if abs(a - b) > tol:
        raise AssertionError("%r !~ %r (tol %r) %s" % (a, b, tol, msg))


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def run_one(name, fn):
    try:
        r = fn()
        if r is not None and hasattr(r, "send"):   # coroutine
            asyncio.run(r)
        print("PASS %s" % name)
        return True
    except Exception as e:
        print("FAIL %s" % name)
        sys.print_exception(e)
        return False


def main(g):
    if sys.argv[1:] == ["--probe"]:
        return          # imported by a heap probe: defined and measured, not run
    names = sorted(k for k in g if k.startswith("test_") and callable(g[k]))
    if len(sys.argv) > 1:
        names = [n for n in names if n in sys.argv[1:]]
        if not names:
            print("FAIL no such test: %s" % sys.argv[1:])
            sys.exit(2)
    failed = 0
    for n in names:
        if not run_one(n, g[n]):
            failed += 1
    print("SUMMARY %d passed %d failed" % (len(names) - failed, failed))
    if failed:
        sys.exit(1)
