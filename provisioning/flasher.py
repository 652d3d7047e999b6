"""Talking to a board's ROM with esptool's Python API (v5): connect, identify, write, verify, reset.

esptool is a library here (detect_chip, run_stub, attach_flash, erase_region, write_flash,
verify_flash, reset_chip), never a subprocess; its messages go to a per-thread reporter (several
boards are flashed at once in batch mode) and its errors become ProvisionErrors that name the
fix. The port is opened by serialopen (pyserial's RFC 2217 client without its per-command
renegotiation, for virtual boards and remote ports). Writes use esptool's skip_flashed: a region whose MD5 on the flash already matches is not
written again, so a run cut short (cable pulled) resumes where it stopped.
"""

import re
import threading
import time

import serial

from . import errors, ports, serialopen

_local = threading.local()


class _Reporter:
    """Receives esptool's output for the board this thread works on."""

    def __init__(self, stage=None, progress=None, lines=None):
        self.stage = stage or (lambda name: None)
        self.progress = progress or (lambda done, total: None)
        self.lines = lines if lines is not None else []


def _install_logger():
    from esptool.logger import TemplateLogger, log

    class ThreadLogger(TemplateLogger):
        def _r(self):
            return getattr(_local, "reporter", None)

        def print(self, *args, **kwargs):
            r = self._r()
            if r is not None:
                r.lines.append(" ".join(str(a) for a in args))

        def note(self, message):
            self.print("note: " + message)

        def warning(self, message):
            self.print("warning: " + message)

        def error(self, message):
            self.print("error: " + message)

        def stage(self, finish=False):
            pass

        def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
            r = self._r()
            if r is not None:
                r.progress(cur_iter, total_iters)

        def set_verbosity(self, verbosity):
            pass

    if not getattr(log, "_provision_installed", False):
        log.set_logger(ThreadLogger())
        log._provision_installed = True


LOST = re.compile(r"(?i)no more data|no serial data received|failed to connect|broken pipe|connection reset|connection aborted|timed out waiting for packet|"
                  r"serial exception|device reports readiness|write timeout|port is closed|socket|"
                  r"connection lost|invalid head of packet|eof")


def classify(exc, port, stage):
    """A ProvisionError for anything esptool or pyserial raised."""
    if isinstance(exc, errors.ProvisionError):
        return exc
    text = str(exc)
    opened = ports.classify_open_error(port, exc) if stage == "connect" else None
    if opened is not None:
        return opened
    if stage == "connect":
        if "Wrong boot mode" in text or "No serial data received" in text or "Failed to connect" in text:
            return errors.NotInDownloadMode("the board on %s does not answer in download mode (%s)"
                                            % (port, text.splitlines()[0]), stage=stage)
        if "Remote does not seem to support RFC2217" in text or "Could not open" in text:
            e = ports.classify_open_error(port, "busy")
            return e or errors.PortBusy("cannot open %s: %s" % (port, text.splitlines()[0]), stage=stage)
    if isinstance(exc, (serial.SerialException, OSError, ConnectionError)) or LOST.search(text):
        return errors.ConnectionLost("lost the board on %s while %s (%s)" % (port, stage, text.splitlines()[0]),
                                     stage=stage)
    if "MD5 of file does not match" in text or "verify" in stage:
        return errors.VerifyFailed("verification failed: %s" % text.splitlines()[0], stage=stage)
    return errors.ProvisionError("%s failed: %s" % (stage, text.splitlines()[0] if text else type(exc).__name__),
                                 stage=stage)


class Flasher:
    """One board on one port. Use as a context manager; every method raises ProvisionError."""

    def __init__(self, port, baud=460800, reporter=None, connect_attempts=3):
        self.port = port
        self.baud = baud
        self.reporter = reporter or _Reporter()
        self.connect_attempts = connect_attempts
        self.esp = None
        self.facts = {}
        self.stats = {"bytes_written": 0, "stages": {}}
        self._reset_done = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self, stage, fn):
        import esptool  # noqa: F401  (the logger is esptool's)
        _install_logger()
        _local.reporter = self.reporter
        self.reporter.stage(stage)
        t = time.monotonic()
        try:
            return fn()
        except BaseException as e:
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            raise classify(e, self.port, stage) from e
        finally:
            self.stats["stages"][stage] = self.stats["stages"].get(stage, 0.0) + time.monotonic() - t

    def connect(self):
        """Reset into download mode (DTR/RTS), identify the chip, start the stub, set the speed."""
        import esptool
        from esptool.cmds import detect_flash_size
        from esptool.util import flash_size_bytes

        ports.check(self.port)

        def go():
            port = serialopen.open_port(self.port, 115200)
            try:
                esp = esptool.detect_chip(port, baud=115200, connect_attempts=self.connect_attempts)
            except BaseException:
                port.close()
                raise
            self.esp = esp
            mac = ":".join("%02x" % b for b in esp.read_mac())
            self.facts = {"chip": esp.CHIP_NAME, "description": esp.get_chip_description(),
                          "features": esp.get_chip_features(), "mac": mac, "hw_id": mac.replace(":", "")}
            esp = esptool.run_stub(esp)
            self.esp = esp
            if self.baud and self.baud != 115200:
                esp.change_baud(self.baud)
            esptool.attach_flash(esp)
            size = detect_flash_size(esp) or "4MB"
            esp.flash_set_parameters(flash_size_bytes(size))
            self.facts["flash_size"] = flash_size_bytes(size)
            return self.facts
        return self._run("connect", go)

    def erase_region(self, offset, size):
        import esptool
        return self._run("erase", lambda: esptool.erase_region(self.esp, offset, size))

    def write(self, regions):
        """regions: [(offset, bytes)]; unchanged regions (same MD5 on the flash) are skipped."""
        import esptool
        self.stats["bytes_written"] += sum(len(d) for _, d in regions)
        return self._run("write", lambda: esptool.write_flash(self.esp, regions, skip_flashed=True))

    def verify(self, regions):
        import esptool
        return self._run("verify", lambda: esptool.verify_flash(self.esp, regions))

    def md5_matches(self, offset, data):
        import hashlib
        return self._run("verify", lambda: self.esp.flash_md5sum(offset, len(data)) == hashlib.md5(data).hexdigest())

    def reset_and_watch(self, ready=r"supervisor: start", fail=None, timeout=60.0):
        """Hard reset (RTS, the EN pin) and read the console at 115200 until `ready` appears.
        Returns the console text; AppDidNotStart when a failure pattern or the timeout comes first."""
        import esptool
        fail = fail or (r"E main: .*|Traceback \(most recent call last\)|invalid header: 0x[0-9a-f]+|"
                        r"flash read err|load partition table error|filesystem appears to be corrupted")

        def go():
            port = self.esp._port
            port.baudrate = 115200                      # the app's UART speed
            port.timeout = 0.2
            esptool.reset_chip(self.esp, "hard-reset")
            self._reset_done = True
            text = ""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = port.read(4096)
                if chunk:
                    text += chunk.decode("utf-8", "replace")
                    if re.search(ready, text):
                        return text
                    bad = re.search(fail, text)
                    if bad:
                        time.sleep(0.3)
                        text += port.read(4096).decode("utf-8", "replace")
                        raise errors.AppDidNotStart("the board did not start the application: %s" % bad.group(0),
                                                    stage="start")
            raise errors.AppDidNotStart("the application did not say it started within %d s" % timeout,
                                        stage="start")
        return self._run("start", go)

    def close(self):
        """Release the port. A board left in download mode (a refusal, an error) is reset so it
        runs whatever it had before, as a person would find it."""
        if self.esp is not None:
            if not self._reset_done:
                try:
                    import esptool
                    esptool.reset_chip(self.esp, "hard-reset")
                except Exception:
                    pass
            try:
                self.esp._port.close()
            except Exception:
                pass
            self.esp = None
