"""A session on a running board's raw REPL over its serial port (mpremote's transport), for the
commands that talk to our application rather than to the ROM: deploy, enroll, doctor.

A board may be running its application with the watchdog armed, or be in deep sleep (its UART
dead). So: pulse EN (RTS) to wake and restart it; when boot.py has spoken, Ctrl-C stops main.py
(main.py stretches the watchdog for a person); mpremote's raw REPL then soft-resets, and after a
soft reset boot.py stretches the watchdog for a deploy session and main.py does not run
(docs/firmware.md "Soft resets and the watchdog"). At the end, EN again: the board starts its
application.
"""

import contextlib
import re
import time

from . import errors, ports


def pulse_en(serial):
    """Reset the board into its application (the DevKit's auto-reset circuit)."""
    serial.dtr = False
    serial.rts = True           # EN low: RTS on, DTR off
    time.sleep(0.1)
    serial.rts = False          # EN high, IO0 high: a normal boot


def stop_app(t, timeout=20.0):
    """Wake the board, let boot.py start, interrupt main.py: returns the console text seen."""
    s = t.serial
    saved = s.timeout
    s.timeout = 0.05
    try:
        return _interrupt(s, timeout)
    finally:
        s.timeout = saved              # mpremote's transport reads blocking


def _interrupt(s, timeout):
    pulse_en(s)
    text = b""
    deadline = time.monotonic() + timeout
    started = None
    while time.monotonic() < deadline:
        text += s.read(4096)
        if started is None and re.search(rb"boot: |MicroPython|>>> ", text):
            started = time.monotonic()
        if started is not None:
            if text.rstrip().endswith(b">>>"):
                return text.decode("utf-8", "replace")
            s.write(b"\x03")
            time.sleep(0.1)
    raise errors.ProvisionError("the board did not stop its application for the REPL within %d s" % timeout,
                                fix="Press EN on the board and run the command again.")


def open_transport(port):
    """mpremote's serial transport on `port`, or the ProvisionError that says why not."""
    from mpremote.transport_serial import SerialTransport
    ports.check(port)
    try:
        return SerialTransport(port, baudrate=115200)
    except Exception as e:
        raise ports.classify_open_error(port, e) or errors.PortBusy("cannot open %s: %s" % (port, e))


@contextlib.contextmanager
def app_repl(port, doing):
    """The board's raw REPL with its application stopped; on a clean exit the board restarts into
    its application. Anything that is not a ProvisionError becomes ConnectionLost("<doing> failed").
    """
    t = open_transport(port)
    try:
        stop_app(t)
        t.enter_raw_repl(soft_reset=True)
        yield t
        t.exit_raw_repl()
        pulse_en(t.serial)
    except errors.ProvisionError:
        raise
    except Exception as e:
        raise errors.ConnectionLost("%s failed: %s" % (doing, e))
    finally:
        try:
            t.close()
        except Exception:
            pass
