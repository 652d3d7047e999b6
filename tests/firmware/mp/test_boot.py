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
import machine  # noqa: E402  (FAKE: reset_cause, WDT)

PWRON, HARD, WDT, DEEPSLEEP, SOFT = 1, 2, 3, 4, 5


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
    st = store.read_json("/state/boot.json")    # written without its false/zero fields
    if st is not None:
        for k, v in (("tries", 0), ("pending", False), ("trial", False)):
            st.setdefault(k, v)
    return st


def _set(**kw):
    store.write_json("/state/boot.json", kw)


def boot(cause=HARD):
    """Run boot.py after a reset of this cause (a crash, unless told otherwise)."""
    machine.FAKE.reset_cause = cause
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
    st = boot(PWRON)
    eq((st["slot"], st["tries"], st["pending"], st["version"]), ("a", 0, True, "1.0.0"))
    eq(sys.path[0], ROOT + "/app_a")
    eq(st["reset_cause"], "power_on")


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
        boot(DEEPSLEEP)
        bootstate.BootState().mark_clean()  # offline wakes that sleep cleanly
    eq(_state()["slot"], "a")
    eq(_state()["tries"], 0)
    _set(slot="b", tries=0, pending=False, good="a", trial=True)
    for i in range(4):
        st = boot(DEEPSLEEP)
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


def test_brownouts_never_abandon_a_confirmed_slot():
    # A weak battery sags under the Wi-Fi transmit current: the brownout detector resets
    # the chip and the port reports PWRON_RESET (modmachine.c), wake after wake.
    _fresh()
    _slot("b", "0.9.0")
    _set(slot="a", tries=0, pending=False, good="a")
    for i in range(6):
        st = boot(PWRON)                   # pending: the wake never got to sleep cleanly
    eq((st["slot"], st["tries"]), ("a", 0))
    ok("bad" not in st and "note" not in st)


def test_power_on_resets_count_on_a_trial_slot():
    _fresh()
    _slot("b", "2.0.0")
    _set(slot="b", tries=0, pending=False, good="a", trial=True)
    for i in range(4):
        st = boot(PWRON)
    eq((st["slot"], st["bad"]), ("a", "b"))    # the update browns out: back to the good one


def test_soft_resets_are_not_failed_boots_and_stretch_the_watchdog():
    # mpremote soft-resets into the raw REPL for every command; the watchdog the app armed
    # keeps running (it survives a soft reset on the ESP32): boot.py gives the session time.
    _fresh()
    boot(PWRON)                            # the app runs, pending (not reached the fleet yet)
    machine.FAKE.wdt = 30000
    for i in range(5):
        st = boot(SOFT)
    eq((st["slot"], st["tries"], st["pending"]), ("a", 0, False))
    eq(machine.FAKE.wdt, 600000)
    st = boot(HARD)                        # `mpremote reset` after the deploy: not a failure
    eq(st["tries"], 0)


def test_crash_loop_count_is_capped_and_then_writes_nothing():
    import mpflash
    _fresh()
    for i in range(20):
        st = boot(HARD)
    eq(st["tries"], 16)
    e0, p0 = mpflash.wear()
    for i in range(5):
        boot(HARD)
    eq(mpflash.wear(), (e0, p0), "no flash write per attempt at the cap")


def test_power_cut_between_flash_operations_of_a_boot():
    # boot.py rewrites /state/boot.json (temp file + rename): cut before each flash operation
    # of that; the next boot must find the old or the new state, never lose the slot.
    import mpflash
    import _vbflash
    k = 1
    while True:
        _fresh()
        _slot("b", "2.0.0")
        _set(slot="b", tries=1, pending=True, good="a", trial=True)
        mpflash.power_cut(k)
        try:
            boot(WDT)                      # the trial boot before was a hang: tries 1 -> 2
            cut = False
        except _vbflash.PowerCut:
            cut = True
        mpflash.flash().cut_after = 0
        if cut:
            mpflash.power_on()
        st = _state()
        eq((st["slot"], st["good"], st["trial"]), ("b", "a", True), "cut %d" % k)
        ok(st["tries"] in (1, 2), "cut %d: tries %d" % (k, st["tries"]))
        if not cut:
            break
        k += 1
    ok(k >= 3, "a boot.json rewrite is %d flash operations" % k)


mptest.main(globals())
