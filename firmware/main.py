# main.py -- runs after boot.py. Tiny and stable: OTA never replaces it.
# Starts the application from the slot boot.py put first on sys.path. If the
# application cannot even start, the error is kept in /state/crash.txt for the
# next hello and the board resets (boot.py counts the failed boot and falls back
# to the other slot after repeated failures). Ctrl-C drops to the REPL.
import sys

try:
    import supervisor
    supervisor.main()
except Exception as ex:
    sys.print_exception(ex)
    try:
        with open("/state/crash.txt", "w") as f:
            f.write("main: %s: %s" % (type(ex).__name__, ex))
    except OSError:
        pass
    import time
    import machine
    time.sleep(2)
    machine.reset()
