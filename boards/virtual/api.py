"""The Python API of the virtual board: BoardFarm (many boards, one host) and VirtualBoard.

Synchronous and simple on purpose: the HIL harness, the demo and the benchmarks call it from
ordinary code. Every call goes to the host's asyncio loop, in this process (BoardFarm(home)) or
in the vboard daemon (BoardFarm.connect(home)); the API is the same.
"""

import time

from . import store
from .errors import ExpectTimeout, VBoardError
from .host import Host
from .rpc import LocalTransport, RemoteTransport


class BoardFarm:
    """Many virtual boards run by one host.

    BoardFarm(home=None)          starts a host in this process (a background thread); boards
                                  stop when the farm is closed. home: $VBOARD_HOME or ./var/vboards.
    BoardFarm.connect(home=None)  talks to the vboard daemon for home (started when needed);
                                  boards keep running after this process ends.
    """

    def __init__(self, home=None, *, micropython=None, heapsize=None, _transport=None):
        self.home = store.resolve_home(home)
        self._host = None
        if _transport is None:
            self._host = Host(self.home, micropython=micropython, heapsize=heapsize, mode="embedded")
            self._host.start_thread()
            _transport = LocalTransport(self._host)
        self._t = _transport

    @classmethod
    def connect(cls, home=None, *, autostart=True, heapsize=None):
        return cls(home, _transport=RemoteTransport(home, autostart=autostart, heapsize=heapsize))

    @property
    def in_process(self):
        return self._host is not None

    def call(self, op, **args):
        return self._t.call(op, **args)

    def create(self, name, *, board="virtual", role=None, config=None, files=None, firmware_dir=None,
               mac=None, replace=False, heapsize=None, heap_trace=None, start=False, blank=False,
               flash_size=None, auto_reset=None):
        """Create a board and write its filesystem.

        Either `config` (the /config.json settings: role, fleet_url, wifi {ssid, password},
        site, enroll_token, ...; the image is built with boards.build_fs from firmware_dir,
        default <repo>/firmware) or `files` ({"/path": bytes}, e.g. from build_fs) is needed.
        The real fleet URL is kept by the host; the board's config.json points at its own proxy.
        `heap_trace` (ms, or True for 2 ms): sample the live heap that often (gc.collect() on the
        board's main thread) and report the firmware's peak in info()["heap"]["fw_peak"]; it makes
        the GC run more often, so use it for measuring, not for deciding whether a heap size passes.
        `blank=True`: the flash is erased everywhere, as on a new module: the ROM finds nothing to
        boot until something is flashed through its serial port (`serial_url`, RFC 2217).
        `flash_size`: bytes of a flash chip other than the definition's (e.g. 2 MB).
        `auto_reset=False`: no DTR/RTS auto-reset circuit (a bare module on a USB-UART cable):
        esptool cannot put it into download mode by itself.
        """
        self.call("create", name=name, board=board, role=role, config=config,
                  files=files, firmware_dir=str(firmware_dir) if firmware_dir else None, mac=mac,
                  replace=replace, heapsize=heapsize, heap_trace=heap_trace, blank=blank, flash_size=flash_size,
                  auto_reset=auto_reset)
        b = VirtualBoard(self, name)
        if start:
            b.start()
        return b

    def board(self, name):
        """An existing board (VBoardError if there is none by that name)."""
        self.call("info", name=name)
        return VirtualBoard(self, name)

    def __getitem__(self, name):
        return self.board(name)

    def boards(self):
        return [VirtualBoard(self, d["name"]) for d in self.call("list")]

    def status(self):
        """info() of every board (state, console URL, LED, ...)."""
        return self.call("list")

    def stop_all(self):
        return self.call("stop_all")

    def close(self):
        """Power off every board of an in-process farm and stop its host (no-op when connected)."""
        if self._host is not None:
            self._host.stop_thread()
            self._host = None

    def shutdown(self):
        """Stop the host this farm talks to (in-process or daemon)."""
        if self._host is not None:
            self.close()
        else:
            self.call("shutdown")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<BoardFarm %s (%s)>" % (self.home, "in-process" if self._host else "daemon")


class VirtualBoard:
    """One virtual ESP32 board. Obtain it from BoardFarm.create() or BoardFarm.board()."""

    def __init__(self, farm, name):
        self.farm = farm
        self.name = name
        self._cursor = 0

    def _call(self, op, **args):
        return self.farm.call(op, name=self.name, **args)

    def __repr__(self):
        return "<VirtualBoard %s>" % self.name

    # ------------------------------------------------------------------ power
    def start(self):
        """Power on (PWRON_RESET); no-op if already powered (running or in deep sleep).
        Moves the expect() cursor to the end of the console, so expect() sees this boot."""
        self._cursor = self.info()["console_end"]
        self._call("power_on")
        return self

    power_on = start

    def power_cut(self, after_flash_ops=None):
        """Cut the power now (SIGKILL): RTC memory and the clock are lost; the flash keeps what
        was programmed. after_flash_ops=N: cut just before the board's N-th next flash erase or
        program instead (returns at once; wait_state("off") to see it happen)."""
        if after_flash_ops is None:
            self._call("power_cut")
        else:
            self._call("power_cut", after_flash_ops=int(after_flash_ops))

    stop = power_cut

    def hold_boot(self, held=True):
        """Hold (or release) the DevKit's BOOT button, which pulls IO0 low: reset() while it is
        held starts the ROM's download mode."""
        self._call("hold_boot", held=bool(held))

    def unplug(self):
        """Pull the USB cable: the serial port's client is cut off and the board loses power
        (start() plugs it back in)."""
        self._call("unplug")

    def reset(self):
        """Press EN: the chip restarts from scratch (PWRON_RESET)."""
        self._call("reset")

    def brownout(self):
        """The supply dips under the brownout threshold: the chip resets, RTC memory and clock
        kept, and the firmware reads PWRON_RESET (the ESP32 port merges the two)."""
        self._call("brownout")

    def destroy(self):
        self._call("destroy")

    def fast_forward(self):
        """Wake a board in timed deep sleep now, its clock advanced by the time it would have slept."""
        return self._call("fast_forward")

    # ------------------------------------------------------------------ stimuli
    def press(self, ms=200, *, wait=False, bounces=0):
        """Press the button for `ms` ms (released by the host). wait=True blocks until released.
        bounces: number of contact bounces (short press/release pairs) before the press settles."""
        self._call("press", ms=ms, bounces=bounces)
        if wait:
            time.sleep(ms / 1000.0)

    def hold(self):
        self._call("hold")

    def release(self):
        self._call("release")

    def set_world(self, **values):
        """Change the simulated world, e.g. set_world(distance_cm=35, temp_c=61, tilt_deg=12).
        Keys: see boards.virtual.world.WORLD. Returns the whole world."""
        return self._call("set_world", values=values)

    def wifi(self, up):
        """Switch the board's access point on or off."""
        self._call("wifi", up=bool(up))

    def link(self, up, mode=None):
        """Cut or restore the network path to the fleet. mode: 'drop' (default: packets vanish,
        connections stall) or 'reset' (connections refused)."""
        self._call("link", up=bool(up), mode=mode)

    def tamper(self, find=None, replace=""):
        """Play a man in the middle on the plain-HTTP path to the fleet: every response body has
        `find` replaced by `replace` on its way to the board (tamper() stops it). TLS traffic
        cannot be rewritten, so this only works while the fleet URL is http://."""
        self._call("tamper", find=find, replace=replace)

    def set_fleet(self, url):
        """Point the board's proxy at another real fleet URL."""
        self._call("set_fleet", url=url)

    # ------------------------------------------------------------------ files
    def deploy(self, files, clean=False):
        """Write {"/path": bytes} into the board's filesystem (clean=True erases it first)."""
        return self._call("deploy", files=files, clean=clean)

    def read_file(self, path):
        return self._call("read_file", path=path)

    # ------------------------------------------------------------------ observation
    def info(self):
        return self._call("info")

    @property
    def state(self):
        """'off', 'running', 'sleeping' (deep sleep), 'reset' (EN held low), 'download' (the
        ROM's serial download mode) or 'bootloop' (the ROM found nothing valid to boot)."""
        return self.info()["state"]

    @property
    def serial_url(self):
        """The board's USB serial port as RFC 2217 (rfc2217://127.0.0.1:PORT), with the DevKit's
        auto-reset circuit and the line speed the client sets."""
        return self.info()["serial_url"]

    @property
    def ble_url(self):
        """The board's BLE radio as a central reaches it (tcp://127.0.0.1:PORT, a fake link:
        boards/virtual/ble.py); boards/virtual/bleak_backend.py puts bleak's client on it."""
        return self.info()["ble_url"]

    @property
    def bt_mac(self):
        """The Bluetooth address the board advertises with: its base MAC + 2, as on the ESP32."""
        m = bytearray.fromhex(self.info()["mac"].replace(":", ""))
        m[5] = (m[5] + 2) & 0xFF
        return ":".join("%02X" % b for b in m)

    @property
    def console_url(self):
        return self.info()["console_url"]

    @property
    def reset_cause(self):
        return self.info()["reset_cause"]

    @property
    def wake_reason(self):
        return self.info()["wake_reason"]

    @property
    def hw_id(self):
        return self.info()["hw_id"]

    @property
    def led(self):
        """True while the LED is lit (respecting led_active_low)."""
        return self._call("output_now", output="led")["on"]

    @property
    def buzzer(self):
        """{'on': sounding?, 'pwm': {'freq', 'duty'} or None, ...}"""
        return self._call("output_now", output="buzzer")

    def output(self, name):
        return self._call("output_now", output=name)

    def outputs(self, name=None, since=0.0):
        """History of output changes: [{'t', 'name', 'pin', 'on', 'v', 'pwm', ...}], oldest first."""
        return self._call("outputs", since=since, only=name)

    def adverts(self, since=0.0):
        """BLE advertising calls: [{'t', 'interval_us', 'adv' (hex), 'resp' (hex), 'connectable'}]."""
        return self._call("adverts", since=since)

    def boots(self):
        """Every boot: [{'t', 'n', 'reset_cause', 'wake_reason', 'wake_pins', 'raw_repl', ...}]."""
        return self._call("boots")

    def timeline(self):
        """[(t, 'awake'|'lightsleep'|'sleeping'|'off'), ...] for energy estimates."""
        return [tuple(x) for x in self._call("timeline")]

    def awake_seconds(self, since=0.0, until=None):
        """Time spent awake (running, not in light or deep sleep) between since and until."""
        tl = self.timeline()
        until = until or time.time()
        total = 0.0
        for i, (t, phase) in enumerate(tl):
            end = tl[i + 1][0] if i + 1 < len(tl) else until
            a, b = max(t, since), min(end, until)
            if phase == "awake" and b > a:
                total += b - a
        return total

    def net_stats(self):
        """Bytes and connections through the board's fleet proxy."""
        return self._call("stats")["net"]

    def wait_state(self, state, timeout=10.0):
        """Block until the board is in `state` (or one of a list of states)."""
        return self._call("wait_state", state=state, timeout=timeout)

    def wait_for(self, predicate, timeout=10.0, interval=0.01, what="condition"):
        """Poll predicate(board) until true; returns its value. VBoardError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            v = predicate(self)
            if v:
                return v
            if time.monotonic() > deadline:
                raise VBoardError("%s: %s not reached within %.1f s" % (self.name, what, timeout))
            time.sleep(interval)

    def wait_led(self, on=True, timeout=10.0):
        return self.wait_for(lambda b: b.led == on or None, timeout, what="LED %s" % ("on" if on else "off"))

    # ------------------------------------------------------------------ console
    @property
    def console_end(self):
        return self.info()["console_end"]

    def mark(self):
        """Move the expect() cursor to the end of what the console printed so far."""
        self._cursor = self.info()["console_end"]
        return self._cursor

    def console_text(self, since=0):
        return self._call("console", since=since)["text"]

    def expect(self, pattern, timeout=10.0, since=None):
        """Wait for a regex on the console output after the cursor (or `since`); moves the cursor
        past the match. Returns a ConsoleMatch; ExpectTimeout (with .tail) if not seen in time."""
        start = self._cursor if since is None else since
        m = self._call("expect", timeout=timeout, pattern=pattern, since=start)
        self._cursor = m["end"]
        return ConsoleMatch(m)

    def write(self, data):
        """Type on the board's console (str or bytes), e.g. b'\\x03' for Ctrl-C."""
        self._call("write", data=data if isinstance(data, (bytes, bytearray)) else str(data).encode())


class ConsoleMatch:
    def __init__(self, d):
        self.text = d["match"]
        self.groups = tuple(d["groups"])
        self.start = d["start"]
        self.end = d["end"]
        self.before = d["before"]

    def group(self, i=0):
        return self.text if i == 0 else self.groups[i - 1]

    def __repr__(self):
        return "<ConsoleMatch %r at %d>" % (self.text, self.start)


__all__ = ["BoardFarm", "VirtualBoard", "ConsoleMatch", "ExpectTimeout", "VBoardError"]
