"""Rigs: where the boards under test come from.

VirtualRig runs virtual ESP32 boards (boards.virtual) — every stimulus is available.
SerialRig drives one real ESP32 on a serial port (or any pyserial URL): it can deploy, reset and
read the console, nothing more; a test that needs a stimulus the rig lacks is skipped with the
reason, never faked (see plugin.py, marker `needs`).

Both give tests the same board interface: expect()/mark()/console_text(), start()/reset(),
read_file(), hw_id, and - where the rig can - press()/hold()/release(), set_world(), wifi(),
link(), power_cut()/power_on().
"""

import re
import subprocess
import sys
import threading
import time

from boards import build_fs, compile_app

# Capability -> what a real rig would need to offer it (the skip reason).
CAPABILITIES = {
    "button": "press the button (needs a relay or GPIO driver on the button)",
    "world": "change sensor readings (needs a controllable physical setup)",
    "wifi": "switch the access point on and off",
    "link": "cut the network path between board and fleet",
    "mitm": "rewrite the fleet's replies on their way to the board (a man in the middle on a plain-HTTP path)",
    "power": "cut and restore the board's power (needs a power relay)",
    "many": "run many boards at once",
    "files": "write files onto the board's filesystem from the host (a virtual board: while it is off)",
    "brownout": "brown the board out (needs a programmable supply that dips under the brownout threshold)",
    "flash_cut": "cut the power just before a chosen flash operation (only a simulated flash chip can)",
    "sleep": "observe deep sleep and wake it on demand",
}


class RigCannot(RuntimeError):
    """A test asked the rig for something it cannot do (the test should declare `needs`)."""


def board_config(role, fleet_url, token, wifi_ssid="district-iot", wifi_password="lab-password", **extra):
    cfg = {"role": role, "fleet_url": fleet_url, "enroll_token": token,
           "wifi": {"ssid": wifi_ssid, "password": wifi_password}}
    cfg.update(extra)
    return cfg


class VirtualRig:
    name = "virtual"
    board_name = "virtual"
    capabilities = frozenset(CAPABILITIES)

    def __init__(self, home, heapsize=None):
        from boards.virtual import BoardFarm
        self.farm = BoardFarm(home, heapsize=heapsize)

    def provision(self, name, config, board="virtual", start=True, files=None):
        """A fresh board with this /config.json (built with boards.build_fs), powered on."""
        b = self.farm.create(name, board=board, config=None if files else config,
                             files=files, replace=True)
        if start:
            b.start()
        return b

    def close(self):
        self.farm.close()


class SerialBoard:
    """A real board on a serial port: console through pyserial, files through mpremote."""

    def __init__(self, port, name):
        import serial  # pyserial, installed with mpremote
        self.port = port
        self.name = name
        self._ser = serial.serial_for_url(port, baudrate=115200, timeout=0.1)
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._cursor = 0
        self._stop = False
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while not self._stop:
            try:
                data = self._ser.read(4096)
            except Exception:  # port gone (board unplugged): keep what we have
                return
            if data:
                with self._lock:
                    self._buf += data

    def _release_port(self):
        self._stop = True
        time.sleep(0.15)
        self._ser.close()

    def _reopen(self):
        import serial
        self._ser = serial.serial_for_url(self.port, baudrate=115200, timeout=0.1)
        self._stop = False
        threading.Thread(target=self._reader, daemon=True).start()

    def _mpremote(self, *args, timeout=120):
        self._release_port()
        try:
            r = subprocess.run([sys.executable, "-m", "mpremote", "connect", self.port, *args],
                               capture_output=True, text=True, timeout=timeout)
        finally:
            self._reopen()
        if r.returncode != 0:
            raise RuntimeError("mpremote %s failed: %s" % (" ".join(args), r.stderr.strip() or r.stdout.strip()))
        return r.stdout

    # ---- files --------------------------------------------------------------------------------
    def deploy(self, files):
        import tempfile
        from pathlib import Path
        with tempfile.TemporaryDirectory() as tmp:
            cmds = []
            dirs = sorted({p.rsplit("/", 1)[0] for p in files if p.count("/") > 1})
            for d in dirs:
                parts = d.strip("/").split("/")
                for i in range(1, len(parts) + 1):
                    cmds += ["exec", "import os\ntry:\n os.mkdir('/%s')\nexcept OSError:\n pass" % "/".join(parts[:i]), "+"]
            for path, data in files.items():
                local = Path(tmp) / path.strip("/").replace("/", "__")
                local.write_bytes(data)
                cmds += ["fs", "cp", str(local), ":" + path, "+"]
            self._mpremote(*cmds[:-1])

    def read_file(self, path):
        out = self._mpremote("exec", "import sys\nwith open(%r,'rb') as f: sys.stdout.buffer.write(f.read())" % path)
        return out.encode()

    @property
    def hw_id(self):
        out = self._mpremote("exec", "import network,binascii;print(binascii.hexlify(network.WLAN(network.STA_IF).config('mac')).decode())")
        return out.strip().splitlines()[-1]

    # ---- power and console ----------------------------------------------------------------------
    def start(self):
        self.reset()
        return self

    def reset(self):
        """Hardware reset through the EN line (RTS), as esptool does."""
        self.mark()
        self._ser.rts = True
        time.sleep(0.1)
        self._ser.rts = False

    def mark(self):
        with self._lock:
            self._cursor = len(self._buf)
        return self._cursor

    def console_text(self, since=0):
        with self._lock:
            return self._buf[since:].decode(errors="replace")

    def expect(self, pattern, timeout=10.0, since=None):
        start = self._cursor if since is None else since
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.console_text(start)
            m = rx.search(text)
            if m:
                self._cursor = start + len(text[:m.end()].encode())
                return m
            if time.monotonic() > deadline:
                raise TimeoutError("%s: %r not seen on the console within %.1f s; last output:\n%s"
                                   % (self.name, pattern, timeout, text[-800:]))
            time.sleep(0.05)

    def __getattr__(self, name):
        if name in ("press", "hold", "release", "set_world", "wifi", "link", "power_cut", "power_on",
                    "fast_forward", "outputs", "output", "led", "buzzer", "brownout", "boots"):
            raise RigCannot("a real board on %s cannot %s; mark the test with @pytest.mark.needs(...)"
                            % (self.port, name))
        raise AttributeError(name)

    def close(self):
        self._release_port()


class SerialRig:
    name = "serial"
    capabilities = frozenset()

    def __init__(self, port, board_name):
        self.port = port
        self.board_name = board_name
        self.board = None

    def provision(self, name, config, board=None, start=True, files=None):
        self.close()  # one board on the port: the previous test's handle goes
        self.board = SerialBoard(self.port, name)
        # a real board gets the app compiled (.mpy), as provisioning deploys it: compiling .py
        # on the board needs far more heap than loading bytecode (docs/firmware.md "Heap")
        files = files or compile_app(build_fs(board or self.board_name, config))
        self.board.deploy(files)
        if start:
            self.board.start()
        return self.board

    def close(self):
        if self.board is not None:
            self.board.close()
            self.board = None
