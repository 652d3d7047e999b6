# boot.py: slot choice, failed-boot counting, fallback, trial slots. MicroPython.
# boot.py is executed as a script (as the board does) with ROOT pointing at the
# temporary flash root.
import os
import sys
import json
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
SRC = os.getenv("FW_SRC")
import store  # noqa: E402
import bootstate  # noqa: E402


def _slot(s, version="1.0.0"):
    d = store.path("/app_" + s)
    try:
        os.mkdir(d)
    except OSError:
        pass
    with open(d + "/app.json", "w") as f:
        f.write(json.dumps({"version": version}))


def _kill_slot(s):
    try:
        os.remove(store.path("/app_%s/app.json" % s))
    except OSError:
        pass


def _state():
    return store.read_json("/state/boot.json")


def _set(**kw):
    store.write_json("/state/boot.json", kw)


def boot():
    with open(SRC + "/boot.py") as f:
        code = f.read()
    g = {"ROOT": ROOT, "__name__": "__main__"}
    exec(code, g)
    return _state()


def _fresh():
    store.remove("/state/boot.json")
    _slot("a", "1.0.0")
    _kill_slot("b")


def test_first_boot_uses_slot_a_and_puts_it_first_on_sys_path():
    _fresh()
    st = boot()
    eq((st["slot"], st["tries"], st["pending"], st["version"]), ("a", 0, True, "1.0.0"))
    eq(sys.path[0], ROOT + "/app_a")
    ok(st["reset_cause"] in ("power_on", "unknown"))


def test_crash_loop_without_alternative_keeps_slot():
    _fresh()
    for i in range(5):
        st = boot()                        # never marked healthy: each boot counts
    eq(st["slot"], "a")
    eq(st["tries"], 4)


def test_fallback_to_good_slot_after_three_failed_boots():
    _fresh()
    _slot("b", "2.0.0")
    _set(slot="b", tries=0, pending=False, good="a", trial=True)
    st = boot()
    eq((st["slot"], st["tries"]), ("b", 0))
    st = boot()
    eq(st["tries"], 1)
    st = boot()
    eq(st["tries"], 2)
    st = boot()                            # third failed boot of b -> back to a
    eq((st["slot"], st["tries"], st["trial"], st["bad"]), ("a", 0, False, "b"))
    ok("fell back to a" in st["note"])
    eq(sys.path[0], ROOT + "/app_a")
    ok(ROOT + "/app_b" not in sys.path)


def test_healthy_boot_resets_counter_and_confirms():
    _fresh()
    boot()
    boot()
    st = boot()
    eq(st["tries"], 2)
    b = bootstate.BootState()
    b.mark_healthy()
    st = _state()
    eq((st["tries"], st["pending"], st["good"]), (0, False, "a"))
    st = boot()
    eq(st["tries"], 0)


def test_clean_sleep_is_not_a_failure_but_not_a_confirmation_on_trial():
    _fresh()
    _slot("b", "2.0.0")
    _set(slot="a", tries=0, pending=False, good="a")
    for i in range(5):
        boot()
        bootstate.BootState().mark_clean()  # offline wakes that sleep cleanly
    eq(_state()["slot"], "a")
    eq(_state()["tries"], 0)
    _set(slot="b", tries=0, pending=False, good="a", trial=True)
    for i in range(4):
        st = boot()
        bootstate.BootState().mark_clean()  # trial: only hello ok confirms
    eq(st["slot"], "a")


def test_invalid_active_slot_uses_other():
    _fresh()
    _slot("b", "2.0.0")
    _set(slot="a", tries=0, pending=False, good="a")
    _kill_slot("a")
    st = boot()
    eq(st["slot"], "b")
    ok("no valid app" in st["note"])


def test_corrupt_state_file():
    _fresh()
    with open(store.path("/state/boot.json"), "w") as f:
        f.write("{garbage")
    st = boot()
    eq((st["slot"], st["tries"]), ("a", 0))


def test_note_reported_once_then_cleared_by_healthy():
    _fresh()
    _slot("b")
    _set(slot="b", tries=3, pending=True, good="a")
    boot()
    b = bootstate.BootState()
    ok(b.get("note"))
    b.mark_healthy()
    ok("note" not in _state())


mptest.main(globals())
