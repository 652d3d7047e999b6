# main.py -- runs after boot.py. Tiny and stable: OTA never replaces it.
# Starts the application from the slot boot.py put first on sys.path.
# If the application cannot even start (a broken install), it says so on the console,
# keeps the error in /state/crash.txt for the next hello (written only when it
# changes), and backs off: deep sleep for 2 s, 4 s, 8 s ... up to an hour, by the
# failed-boot count boot.py keeps (capped, so a crash loop ends its flash writes).
# Deep sleep, not a reset: it stops the watchdog and spends no battery meanwhile.
# boot.py counts each such boot as failed and falls back to the other slot when it
# has a valid one. Ctrl-C drops to the REPL, with the watchdog stretched for a person.
import sys

REPL_WDT_MS = 600000


def _failed_boots():
    try:
        import json
        with open("/state/boot.json") as f:
            st = json.load(f)
        return st.get("tries", 0), st.get("slot", "?")
    except Exception:
        return 0, "?"


def _keep(msg):
    try:
        with open("/state/crash.txt") as f:
            if f.read() == msg:
                return                  # the same error again: no flash write
    except OSError:
        pass
    try:
        with open("/state/crash.txt", "w") as f:
            f.write(msg)
    except OSError:
        pass


def _broken(ex):
    import time
    import machine
    sys.print_exception(ex)
    n, slot = _failed_boots()
    msg = "main: %s: %s" % (type(ex).__name__, ex)
    _keep(msg)
    wait_s = min(2 << min(n, 11), 3600)
    print("E main: the application in slot %s cannot start (%s); failed boots: %d. "
          "Reinstall the firmware (see docs/firmware.md). Next try in %d s; Ctrl-C now for the REPL."
          % (slot, msg[6:], n, wait_s))
    try:
        time.sleep(3)                   # a moment to press Ctrl-C at the console
    except KeyboardInterrupt:
        _to_repl()
        raise
    machine.deepsleep(wait_s * 1000)


def _to_repl():
    try:
        import machine
        machine.WDT(timeout=REPL_WDT_MS)     # a running watchdog cannot be stopped
        print("main: stopped; the watchdog resets the board in %d min unless fed" % (REPL_WDT_MS // 60000))
    except Exception:
        pass


try:
    import supervisor
    supervisor.main()
except KeyboardInterrupt:
    _to_repl()
    raise
except Exception as ex:
    _broken(ex)
