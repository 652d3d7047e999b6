# Virtual board: the shims' channel to the host (MicroPython code).
#
# Two loopback TCP connections to the host's control port:
#   "in"  host -> board, JSON lines, read by a small thread that only waits in poll() and reads
#         into one preallocated buffer; it asks micropython.schedule() to apply the lines on the
#         main thread (all state changes and IRQ handlers run there);
#   "out" board -> host, JSON lines written by the main thread (outputs, WDT, sleep, resets).
# A UDP datagram to ourselves wakes a pending asyncio poll, so pin IRQs are delivered while
# the firmware awaits (asyncio's poll does not run scheduled callbacks until it returns).
#
# Heap. On an ESP32 the Wi-Fi driver, the event loop of the IDF and the UART never allocate on
# the MicroPython heap; here this channel shares the firmware's heap, so it must neither take
# the firmware's share nor lose a message when the firmware has filled the heap:
# - the reader thread allocates nothing after start(): it reads into `_rbuf` and waits until
#   the main thread has taken those bytes before reading more (what the host sends meanwhile
#   stays in the socket: nothing is dropped);
# - the main thread copies them into one preallocated line buffer and decodes each complete
#   line in place (json.loads on a memoryview: no copy of the line, no split, no join);
# - a line that cannot be decoded or applied for lack of heap is retried after gc.collect();
#   if the heap is still full it stays in the buffer (later lines wait behind it, in order)
#   and is retried every few ms until it applies. The host is told on the control channel
#   (ev "shim_mem", a note in console.log and info()["heap"]); if it lasts, the console says
#   so too. Nothing is ever dropped silently.
# - sends build their line in a preallocated buffer (RTC memory is hex-encoded there, byte by
#   byte), retrying after gc.collect() too.
import os
import gc
import json
import socket
import time
import micropython
import _thread
import select

NAME = os.getenv("VBOARD_NAME") or "vboard"
_PORT = int(os.getenv("VBOARD_CTL") or "0")
_TOKEN = os.getenv("VBOARD_TOKEN") or ""

# Filled from the host's init message.
boot = {}          # reset_cause, wake_reason, wake_pins, raw
flash_path = None  # the flash file as the board sees it (the launcher mounts its directory)
board = {}         # the board definition (pins, active levels, divider, ...)
chip = {}          # chip capabilities (see boards/chips.py for_shim)
world = {}         # the simulated world (distance_cm, temp_c, battery_v, ...)
levels = {}        # pin -> level driven from outside (button...), absent = not driven
wlan = {}          # Wi-Fi state decided by the host
nvs = {}           # namespace -> {key: ["i32", int] | ["blob", hex]}
rtc = {"offset_ms": 0}  # clock offset, ms (board unix time - host time); RTC memory: rtc_mem()
mac = b"\x24\x0a\xc4\x00\x00\x01"

RTC_MEM_MAX = 2048
_RBUF = 1024       # reader -> main thread hand-over
_LBUF = 2048       # line buffer (grows for a longer line, shrinks back when empty)
_OBUF = 2 * RTC_MEM_MAX + 96   # an outgoing line: RTC memory in hex fits
_MEM_TRIES = 3     # gc.collect() and retry this many times before waiting for the firmware
_STUCK_RETRY_MS = 5
_STUCK_WARN_MS = 2000

_handlers = {}     # op -> callable(msg) on the main thread
_lock = _thread.allocate_lock()    # guards _sched (main thread: straight-line code only)
_rlock = _thread.allocate_lock()   # whoever reads the socket into _rbuf holds it
_sched = [False]   # a _drain_cb is scheduled and has not started yet
_out = None
_inp = None
_wake = None
_wake_addr = None
_tx = None         # the reader's socket for wake datagrams
_poll = None
_started = False

# Preallocated at import, so the shims' measured share (runtime.shim_overhead) includes them.
_rbuf = bytearray(_RBUF)
_rmv = memoryview(_rbuf)
_rlen = [0]        # bytes in _rbuf the main thread has not taken yet (0: the reader may read)
_line0 = bytearray(_LBUF)
_line = _line0
_lmv = memoryview(_line0)
_ls = 0            # unapplied bytes are _line[_ls:_le]
_le = 0
_draining = False
_again = False
_obuf = bytearray(_OBUF)
_obusy = False
_rtcbuf = bytearray(RTC_MEM_MAX)
_rtcmv = memoryview(_rtcbuf)
_rtclen = 0
_HEX = b"0123456789abcdef"
# MemoryErrors met by the shims: [count, waiting since (ticks) or -1, warned, longest wait ms]
_mem = [0, -1, False, 0]
_stuck = [False]
# Heap trace (info()["heap"]["fw_peak"]): [sample period ms, peak mem_alloc, samples, scheduled]
_trace = [0, 0, 0, False]


def _connect(chan):
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", _PORT)[0][-1])
    s.write(json.dumps({"ev": "hello", "chan": chan, "name": NAME, "token": _TOKEN}).encode() + b"\n")
    return s


def _readline_blocking(s):
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            raise OSError("vboard host closed the control channel")
        buf += d
    return buf


def start():
    """Connect to the host and load the boot state. Called once by the launcher."""
    global _out, _inp, _started, mac, _poll
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
        try:
            _out.setsockopt(6, 1, 1)        # IPPROTO_TCP, TCP_NODELAY: each line goes out at once
        except OSError:
            pass
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
    _rtc_load(bytes.fromhex(init.get("rtc_mem") or ""))
    rtc["offset_ms"] = init.get("clock_offset_ms") or 0
    # the chip's microsecond counter (esp_timer) at this instant: time.ticks_*() count on from it
    rtc["ticks_us"] = int(init.get("ticks_us") or 0)
    rtc["ticks_base"] = getattr(time, "_bt", time).ticks_us()
    mac = bytes.fromhex(init.get("mac") or "240ac4000001")
    _trace[0] = int(init.get("heap_trace") or 0)
    init = first = line = None
    if rest:
        _feed(rest)
    _setup_wake()
    if not cal:
        _inp.setblocking(False)
        _poll = select.poll()
        _poll.register(_inp, select.POLLIN)
        for _ in _poll.ipoll(0):          # its result tuple is allocated on the first call
            break
        _thread.start_new_thread(_reader, ())
        if _trace[0]:
            _thread.start_new_thread(_sampler, ())
    _started = True


def _setup_wake():
    global _wake, _wake_addr, _tx
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
    _tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


# ----------------------------------------------------------------------- the reader thread
def _reader():
    # The only code that runs outside the main thread (no GIL on this build). It allocates
    # nothing: a MemoryError here would be the firmware's heap failing code the ESP32 runs in
    # the IDF. It never ends while the host is there (a dead reader would lose every message).
    while True:
        try:
            _read_loop()
            return
        except BaseException as e:   # noqa: B036 - whatever it is, keep reading
            try:
                print("vboard: host channel reader:", repr(e))
            except BaseException:     # noqa: B036
                pass
            time.sleep_ms(5)


def _read_loop():
    waited = 0
    if _ls != _le:
        _kick()                 # bytes that came with the init message
    while True:
        if _rlen[0]:
            # The main thread has not taken the last bytes yet (it runs the firmware, or a line
            # waits for heap): keep the rest in the socket and remind it now and then.
            time.sleep_ms(1)
            waited += 1
            if waited >= _STUCK_RETRY_MS:
                waited = 0
                _kick()
            continue
        waited = 0
        if _stuck[0]:
            for _ in _poll.ipoll(_STUCK_RETRY_MS):
                break
        else:
            for _ in _poll.ipoll(-1):
                break
        _rlock.acquire()
        try:
            if _rlen[0]:
                n = None        # sync() on the main thread read it first
            else:
                n = _inp.readinto(_rbuf)
                if n:
                    _rlen[0] = n
        except OSError:
            n = 0
        finally:
            _rlock.release()
        if n is None:           # nothing yet (woken for a retry, or a spurious wake-up)
            if _stuck[0] or _rlen[0]:
                _kick()
            continue
        if not n:
            # The host is gone without ending this process (it always kills a board itself):
            # a board without its host has lost power.
            os.system("kill -9 $PPID 2>/dev/null")
            return
        _kick()


def _pull():
    """Main thread: read what the host has already sent, if the hand-over buffer is free, so a
    shim call that reads simulated state sees every message sent before it (the reader thread
    may not have run yet)."""
    if _inp is None or _rlen[0]:
        return
    for _ in range(20):
        if _rlock.acquire(0):
            break
        time.sleep_us(20)      # the reader is in readinto() right now (or we hold it, nested)
    else:
        return
    try:
        if not _rlen[0]:
            n = _inp.readinto(_rbuf)
            if n:
                _rlen[0] = n
    except OSError:
        pass
    finally:
        _rlock.release()


def _kick():
    """Reader thread: have the main thread run _drain soon, and wake asyncio's poll."""
    _lock.acquire()
    need = not _sched[0]
    _sched[0] = True
    _lock.release()
    if need:
        tries = 0
        while True:
            try:
                micropython.schedule(_drain_cb, None)
                break
            except Exception:    # queue full (or no heap for the error): try again shortly
                tries += 1
                if tries > 50:
                    _sched[0] = False     # the next reminder schedules it
                    break
                time.sleep_ms(1)
    if _tx is not None:
        try:
            _tx.sendto(b"!", _wake_addr)
        except Exception:
            pass


# -------------------------------------------------------------- applying host messages
def _drain_cb(_):
    _lock.acquire()
    _sched[0] = False
    _lock.release()
    _drain()


def _drain():
    # Not re-entrant: an IRQ handler run from here that reads a pin calls sync(), which must not
    # apply later messages before the rest of this batch (that would reorder edges).
    global _draining, _again
    if _draining:
        _again = True
        return
    _draining = True
    try:
        while _apply_lines():
            if not _rlen[0]:
                _pull()
                if not _rlen[0]:
                    break
            if not _take():
                break
    finally:
        _draining = False
    if _again:
        _again = False
        _lock.acquire()
        need = not _sched[0]
        _sched[0] = True
        _lock.release()
        if need:
            try:
                micropython.schedule(_drain_cb, None)
            except Exception:
                _sched[0] = False    # the reader reminds us while bytes wait


def _feed(data):
    """Main thread, before the reader runs: bytes that came with the init message."""
    n = len(data)
    i = 0
    while i < n:
        k = min(n - i, _RBUF)
        _rbuf[0:k] = data[i:i + k]
        _rlen[0] = k
        _take()
        i += k


def _take():
    """Move the reader's bytes into the line buffer. False if there is no heap for that now."""
    global _line, _lmv, _ls, _le
    n = _rlen[0]
    if _ls == _le:
        _ls = _le = 0
    if _le + n > len(_line):
        if _ls:
            # move the partial line to the front (byte by byte: no temporary copy)
            k = _le - _ls
            L = _line
            s0 = _ls
            for i in range(k):
                L[i] = L[s0 + i]
            _ls = 0
            _le = k
        if _le + n > len(_line):
            size = len(_line) * 2
            while size < _le + n:
                size *= 2
            nb = _alloc_retry(size)
            if nb is None:
                _stuck_on("line buffer", size)
                return False
            try:
                nb[0:_le] = _lmv[0:_le]
                mv = memoryview(nb)
            except MemoryError:
                _stuck_on("line buffer", size)
                return False
            _line = nb
            _lmv = mv
    tries = 0
    while True:
        try:
            _line[_le:_le + n] = _rmv[0:n]
            break
        except MemoryError:
            tries += 1
            if tries >= _MEM_TRIES:
                _stuck_on("copy", n)
                return False
            gc.collect()
    _le += n
    _rlen[0] = 0
    return True


def _alloc_retry(size):
    for _ in range(_MEM_TRIES):
        try:
            return bytearray(size)
        except MemoryError:
            gc.collect()
    return None


def _apply_lines():
    """Apply every complete line in order. False if one waits for heap (it stays first)."""
    global _ls, _le, _line, _lmv
    while _ls < _le:
        e = _line.find(b"\n", _ls, _le)
        if e < 0:
            return True
        if e > _ls and not _apply(_ls, e):
            return False
        _ls = e + 1
    _ls = _le = 0
    if _line is not _line0:
        _line = _line0              # a long line is done: give the larger buffer back
        _lmv = memoryview(_line0)
    return True


def _apply(s, e):
    op = None
    tries = _MEM_TRIES - 2 if _stuck[0] else 0      # already waiting: one collect per attempt
    while True:
        try:
            msg = json.loads(_lmv[s:e])
            op = msg.get("op")
            fn = _handlers.get(op)
            if fn is not None:
                fn(msg)   # handlers are idempotent (or undo themselves) if they raise MemoryError
            msg = None
            if _stuck[0]:
                _unstuck(op)
            return True
        except MemoryError:
            msg = None
            tries += 1
            if tries >= _MEM_TRIES:
                _stuck_on(op or "json", e - s)
                return False
            gc.collect()
        except ValueError as ex:
            _shim_error("bad host line", ex)
            return True
        except Exception as ex:  # a bug in a shim must not kill the firmware silently
            _shim_error(op, ex)
            return True


def _shim_error(what, ex):
    try:
        print("vboard shim error:", what, repr(ex))
    except MemoryError:
        print("vboard shim error (and no heap to describe it)")


def _stuck_on(what, size):
    """A host message waits for heap: tell the host once, the console if it lasts, retry soon."""
    now = time.ticks_ms()
    if not _stuck[0]:
        _stuck[0] = True
        _mem[0] += 1
        _mem[1] = now
        _mem[2] = False
        _report_mem("wait", what, size, 0)
    elif not _mem[2] and time.ticks_diff(now, _mem[1]) >= _STUCK_WARN_MS:
        _mem[2] = True
        try:
            print("vboard: a host message (%s, %d bytes) has waited %d ms for heap: MemoryError even "
                  "after gc.collect(), gc.mem_free()=%d" % (what, size, time.ticks_diff(now, _mem[1]),
                                                          gc.mem_free()))
        except MemoryError:
            print("vboard: a host message has waited 2 s for heap: MemoryError even after gc.collect()")


def _unstuck(op):
    waited = time.ticks_diff(time.ticks_ms(), _mem[1])
    _stuck[0] = False
    if waited > _mem[3]:
        _mem[3] = waited
    _report_mem("applied", op, 0, waited)
    if _mem[2]:
        print("vboard: the host message waiting for heap was applied after %d ms" % waited)


def _report_mem(state, what, size, waited):
    try:
        send("shim_mem", state=state, what=what, size=size, waited=waited, count=_mem[0],
             free=gc.mem_free())
    except MemoryError:
        _write(b'{"ev":"shim_mem","state":"wait"}\n' if state == "wait" else
               b'{"ev":"shim_mem","state":"applied"}\n')


def sync():
    """Apply any host messages that arrived (called before reading simulated state)."""
    _pull()
    if _rlen[0] or _stuck[0] or _ls != _le:
        _drain()


def on(op, fn):
    _handlers[op] = fn


# ----------------------------------------------------------------------- board -> host
def _write(b, n=-1):
    if _out is None:
        return
    try:
        if n < 0:
            _out.write(b)
        else:
            _out.write(b, n)      # the first n bytes, without a slice object
    except OSError:
        pass


def send(ev, **kw):
    """One JSON line to the host. Never loses the event for a full heap it can collect; raises
    MemoryError (and says so on the console) only if the heap stays full after gc.collect()."""
    global _obusy
    if _out is None:
        return
    if ev in _FINAL:
        _heap_end()
    tries = 0
    while True:
        try:
            kw["ev"] = ev
            kw["ms"] = time.ticks_ms()
            s = json.dumps(kw)
            m = memoryview(s)          # its bytes (UTF-8): len(s) counts characters
            n = len(m)
            if n < _OBUF and not _obusy:
                _obusy = True
                try:
                    _obuf[0:n] = m
                    _obuf[n] = 10
                    s = m = None
                    _write(_obuf, n + 1)
                finally:
                    _obusy = False
            else:                     # nested in another send (an IRQ handler), or very long
                _write(s + "\n")
            return
        except MemoryError:
            s = m = None
            tries += 1
            if tries >= _MEM_TRIES:
                _mem[0] += 1
                try:
                    print("vboard: cannot tell the host %r: MemoryError even after gc.collect(), "
                          "gc.mem_free()=%d" % (ev, gc.mem_free()))
                except MemoryError:
                    print("vboard: cannot tell the host an event: MemoryError even after gc.collect()")
                raise
            gc.collect()


def _put(o, j, b):
    for c in b:
        o[j] = c
        j += 1
    return j


def send_hex(ev, key, data, n):
    """{"ev": ev, key: hex(data[:n])} built in the preallocated buffer (RTC memory writes);
    `ev` and `key` are bytes."""
    global _obusy
    if _out is None:
        return
    if _obusy:                    # nested in another send (an IRQ handler): the slow way
        send(ev.decode(), **{key.decode(): bytes(data[:n]).hex()})
        return
    _obusy = True
    try:
        o = _obuf
        j = _put(o, 0, b'{"ev":"')
        j = _put(o, j, ev)
        j = _put(o, j, b'","')
        j = _put(o, j, key)
        j = _put(o, j, b'":"')
        h = _HEX
        for i in range(n):
            c = data[i]
            o[j] = h[c >> 4]
            o[j + 1] = h[c & 15]
            j += 2
        j = _put(o, j, b'"}\n')
        _write(o, j)
    finally:
        _obusy = False


def halt():
    """Wait for the host to end this process (deep sleep, reset): never returns."""
    while True:
        time.sleep_ms(1000)


# ------------------------------------------------------------------------ RTC memory
def _rtc_load(data):
    global _rtclen
    n = len(data)
    _rtcbuf[0:n] = data
    _rtclen = n


def rtc_mem():
    """RTC memory as bytes (a new object, as machine.RTC().memory() returns on the ESP32)."""
    return bytes(_rtcmv[0:_rtclen])


def rtc_mem_set(data):
    """Store RTC memory without a copy on the heap (on the chip it is RTC RAM) and tell the host."""
    global _rtclen
    n = len(data)
    if n > RTC_MEM_MAX:
        raise ValueError("buffer too long")
    if isinstance(data, str):
        data = memoryview(data)
    _rtcbuf[0:n] = data
    _rtclen = n
    send_hex(b"rtcmem", b"hex", _rtcbuf, n)


# ------------------------------------------------------------------------- heap trace
_FINAL = ("deepsleep", "reset", "soft_reset", "repl")


def _heap_end():
    """When the firmware ends a boot (deep sleep, reset, main.py returned): the live heap after
    gc.collect() (the process ends anyway, so collecting changes nothing) and the traced peak."""
    try:
        gc.collect()
        a = gc.mem_alloc()
        if _trace[0] and a > _trace[1]:
            _trace[1] = a
        send("heap_end", alloc=a, peak=_trace[1] if _trace[0] else None, samples=_trace[2],
             shim_memerrors=_mem[0], shim_wait_ms=_mem[3])
    except MemoryError:
        pass


def _sampler():
    # Heap trace only (create(..., heap_trace=ms)): every `ms` the main thread collects and
    # reads gc.mem_alloc() at whatever bytecode it is running, so the peak of the live heap
    # (firmware + shims) is seen inside HTTP requests too. It changes when the GC runs, so a
    # traced run measures; it is not the run that decides whether a heap size passes.
    ms = _trace[0]
    while True:
        time.sleep_ms(ms)
        if not _trace[3]:
            _trace[3] = True
            try:
                micropython.schedule(_sample, None)
            except Exception:
                _trace[3] = False


_last_report = [0]   # ticks of the last heap_peak report


def _sample(_=None):
    _trace[3] = False
    gc.collect()
    a = gc.mem_alloc()
    _trace[2] += 1
    if a > _trace[1]:
        _trace[1] = a
        if time.ticks_diff(time.ticks_ms(), _last_report[0]) >= 500:
            _last_report[0] = time.ticks_ms()
            try:
                send("heap_peak", peak=a, samples=_trace[2])
            except MemoryError:
                pass


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
    ch = msg.get("levels") or {}
    for k in ch:
        v = ch[k]
        if v is None:
            levels.pop(int(k), None)
        else:
            levels[int(k)] = v


def _on_wlan(msg):
    wlan.update(msg.get("wlan") or {})


def _on_flashcut(msg):
    # the host asks for a power cut just before the n-th next flash operation (erase/program)
    import esp32
    esp32._open_flash().cut_after = int(msg.get("after") or 0)


def flash_cut():
    """The flash operation the host cut the power before: tell it and wait to be killed (the
    chip stops here; nothing after this reaches the flash)."""
    send("flash_cut")
    while True:
        time.sleep_ms(1000)


on("world", _on_world)
on("levels", _on_levels)
on("wlan", _on_wlan)
on("flashcut", _on_flashcut)
