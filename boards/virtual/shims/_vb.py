# Virtual board: the shims' channel to the host (MicroPython code).
#
# Two loopback TCP connections to the host's control port:
#   "in"  host -> board, JSON lines, read by a small thread that only blocks in recv(),
#         queues the bytes under a lock and asks micropython.schedule() to apply them on the
#         main thread (all state changes and IRQ handlers run there);
#   "out" board -> host, JSON lines written by the main thread (outputs, WDT, sleep, resets).
# A UDP datagram to ourselves wakes a pending asyncio poll, so pin IRQs are delivered while
# the firmware awaits (asyncio's poll does not run scheduled callbacks until it returns).
import os
import json
import socket
import time
import micropython
import _thread

NAME = os.getenv("VBOARD_NAME") or "vboard"
_PORT = int(os.getenv("VBOARD_CTL") or "0")
_TOKEN = os.getenv("VBOARD_TOKEN") or ""

# Filled from the host's init message.
boot = {}          # reset_cause, wake_reason, wake_pins, raw
board = {}         # the board definition (pins, active levels, divider, ...)
chip = {}          # chip capabilities (see boards/chips.py for_shim)
world = {}         # the simulated world (distance_cm, temp_c, battery_v, ...)
levels = {}        # pin -> level driven from outside (button...), absent = not driven
wlan = {}          # Wi-Fi state decided by the host
nvs = {}           # namespace -> {key: ["i32", int] | ["blob", hex]}
rtc = {"mem": b"", "offset": 0.0}  # RTC memory and clock offset (board unix time - host time)
mac = b"\x24\x0a\xc4\x00\x00\x01"

_handlers = {}     # op -> callable(msg) on the main thread
_lock = _thread.allocate_lock()
_pending = []
_sched = [False]
_out = None
_inp = None
_wake = None
_wake_addr = None
_started = False


def _connect(chan):
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", _PORT)[0][-1])
    s.write(json.dumps({"ev": "hello", "chan": chan, "name": NAME, "token": _TOKEN}).encode() + b"\n")
    return s


def _readline_blocking(s):
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            raise OSError("vboard host closed the control channel")
        buf += d
    return buf


def start():
    """Connect to the host and load the boot state. Called once by the launcher."""
    global _out, _inp, _started, mac
    if _started:
        return
    cal = os.getenv("VBOARD_CALIBRATE")
    if cal:
        # heap calibration run: same state, no host (see runtime.shim_overhead)
        with open(cal) as f:
            first = f.read().encode()
        rest = b""
    else:
        _out = _connect("out")
        _inp = _connect("in")
        line = _readline_blocking(_inp)
        first, _, rest = line.partition(b"\n")
    init = json.loads(first)
    for d, k in ((boot, "boot"), (board, "board"), (chip, "chip"), (world, "world"),
                 (levels, "levels"), (wlan, "wlan"), (nvs, "nvs")):
        d.clear()
        d.update(init.get(k) or {})
    # JSON object keys are strings; pins are ints here.
    fixed = {}
    for k, v in levels.items():
        fixed[int(k)] = v
    levels.clear()
    levels.update(fixed)
    rtc["mem"] = bytes.fromhex(init.get("rtc_mem") or "")
    rtc["offset"] = init.get("clock_offset") or 0.0
    mac = bytes.fromhex(init.get("mac") or "240ac4000001")
    if rest:
        _pending.append(rest)
    _setup_wake()
    if not cal:
        _thread.start_new_thread(_reader, ())
    _started = True


def _setup_wake():
    global _wake, _wake_addr
    w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(50):
        port = 20000 + int.from_bytes(os.urandom(2), "little") % 40000
        try:
            addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
            w.bind(addr)
            break
        except OSError:
            addr = None
    if addr is None:
        return
    w.setblocking(False)
    _wake = w
    _wake_addr = addr


def _reader():
    # The only code that runs outside the main thread: keep it minimal (no GIL on this build).
    tx = None
    if _wake_addr is not None:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    while True:
        try:
            d = _inp.recv(4096)
        except OSError:
            d = b""
        if not d:
            # The host is gone without ending this process (it always kills a board itself):
            # a board without its host has lost power.
            os.system("kill -9 $PPID 2>/dev/null")
            return
        with _lock:
            _pending.append(d)
            need = not _sched[0]
            _sched[0] = True
        if need:
            while True:
                try:
                    micropython.schedule(_drain, None)
                    break
                except RuntimeError:   # schedule queue full: try again shortly
                    time.sleep_ms(1)
        if tx is not None:
            try:
                tx.sendto(b"!", _wake_addr)
            except OSError:
                pass


_partial = [b""]
_draining = [False]


def _drain(_=None):
    # Not re-entrant: an IRQ handler run from here that reads a pin calls sync(), which must not
    # apply later messages before the rest of this batch (that would reorder edges).
    if _draining[0]:
        return
    _draining[0] = True
    try:
        _drain_batch()
    finally:
        _draining[0] = False
        if _pending and not _sched[0]:
            _drain_batch_later()


def _drain_batch_later():
    with _lock:
        if _sched[0]:
            return
        _sched[0] = True
    try:
        micropython.schedule(_drain, None)
    except RuntimeError:
        _sched[0] = False


def _drain_batch():
    with _lock:
        chunks = _pending[:]
        del _pending[:]
        _sched[0] = False
    if not chunks:
        return
    data = _partial[0] + b"".join(chunks)
    lines = data.split(b"\n")
    _partial[0] = lines.pop()
    for line in lines:
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        fn = _handlers.get(msg.get("op"))
        if fn is not None:
            try:
                fn(msg)
            except Exception as e:  # a bug in a shim must not kill the firmware silently
                print("vboard shim error:", msg.get("op"), repr(e))


def sync():
    """Apply any host messages that arrived (called before reading simulated state)."""
    if _pending:
        _drain()


def on(op, fn):
    _handlers[op] = fn


def send(ev, **kw):
    kw["ev"] = ev
    kw["ms"] = time.ticks_ms()
    if _out is None:
        return
    data = json.dumps(kw).encode() + b"\n"
    try:
        _out.write(data)
    except OSError:
        pass


def halt():
    """Wait for the host to end this process (deep sleep, reset): never returns."""
    while True:
        time.sleep_ms(1000)


def install_asyncio():
    """Make asyncio's poll return when host messages arrive, so IRQs are not held back."""
    if _wake is None:
        return
    try:
        import asyncio
        from asyncio import core
    except ImportError:
        return

    async def pump():
        while True:
            yield core._io_queue.queue_read(_wake)
            try:
                while True:
                    _wake.recv(64)
            except OSError:
                pass

    def add():
        core.create_task(pump())

    add()
    orig = core.new_event_loop

    def new_event_loop():
        loop = orig()
        add()
        return loop

    core.new_event_loop = new_event_loop
    asyncio.new_event_loop = new_event_loop


def pin_role(pin):
    """The board-definition name of a GPIO ('button', 'led', ...), or None."""
    pins = board.get("pins") or {}
    for k in pins:
        if pins[k] == pin:
            return k
    return None


def role_pin(name):
    return (board.get("pins") or {}).get(name)


# Defaults for keys the host may leave out of the world.
def w(key, default=None):
    v = world.get(key)
    return default if v is None else v


def _on_world(msg):
    world.update(msg.get("world") or {})


def _on_levels(msg):
    # handled in machine (IRQs); this fallback keeps state right when machine is not loaded
    for k, v in (msg.get("levels") or {}).items():
        if v is None:
            levels.pop(int(k), None)
        else:
            levels[int(k)] = v


def _on_wlan(msg):
    wlan.update(msg.get("wlan") or {})


on("world", _on_world)
on("levels", _on_levels)
on("wlan", _on_wlan)
