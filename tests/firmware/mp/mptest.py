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


def fleet(cfg):
    """cfg with the fleet's URL (FLEET_URL) and, for an https one, the CA certificate that
    signed the fleet's (FW_CA, a host file) copied to the board as /ca.der."""
    cfg["fleet_url"] = os.getenv("FLEET_URL")
    ca = os.getenv("FW_CA")
    if ca:
        import store
        with open(ca, "rb") as f, open(store.path("/ca.der"), "wb") as g:
            g.write(f.read())
        cfg["ca"] = "/ca.der"
    return cfg


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


def heap_report(what):
    """The figures a heap gate reads (tests/firmware/heapgate.py): the heap after a collection,
    the sampled peak (HEAP_TRACE_MS) and the interned names (qstr_info's line, next). Checks the
    heap cap HEAP_LIMIT was in force."""
    import gc
    import micropython
    gc.collect()
    total = gc.mem_free() + gc.mem_alloc()
    print("HEAP %s: total=%d free=%d peak=%d" % (what, total, gc.mem_free(), _peak[0]))
    micropython.qstr_info()
    limit = int(os.getenv("HEAP_LIMIT") or 0)
    ok(limit and total <= limit + 1024, "heap %d, expected at most %d" % (total, limit))


_peak = [-1]


async def _trace(ms):
    # heap benchmarks only: the live heap every `ms` (a collection each time, which keeps the
    # heap more compact than an untraced run: the gates run without it)
    import gc
    while True:
        gc.collect()
        _peak[0] = max(_peak[0], gc.mem_alloc())
        await asyncio.sleep_ms(ms)


async def _traced(coro, ms):
    t = asyncio.create_task(_trace(ms))
    try:
        await coro
    finally:
        t.cancel()


def run_one(name, fn):
    try:
        r = fn()
        if r is not None and hasattr(r, "send"):   # coroutine
            trace = int(os.getenv("HEAP_TRACE_MS") or 0)
            asyncio.run(_traced(r, trace) if trace else r)
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
