"""A virtual board's serial console: a TCP server (socket://127.0.0.1:PORT) bridged to the
MicroPython process's pty, an in-memory transcript for expect(), and a timestamped log file."""

import asyncio
import bisect
import codecs
import re
import socket
import struct
import time

MAX_BUFFER = 2_000_000          # characters of transcript kept in memory (older text is dropped)


def _stamp(t):
    lt = time.localtime(t)
    return time.strftime("%Y-%m-%d %H:%M:%S", lt) + ".%03d" % int((t % 1) * 1000)


class Console:
    def __init__(self, name, log_path):
        self.name = name
        self.log_path = log_path
        self.port = None
        self._server = None
        self._clients = set()
        self._buf = []           # chunks of transcript text
        self._buf_start = 0      # absolute offset of the first kept character
        self._buf_len = 0
        self._changed = asyncio.Event()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._prev_cr = False
        self._improv_tail = b""        # the last bytes written, to find an Improv packet's header
        self._raw_len_next = False
        self._raw_left = 0
        self._line = ""
        self._line_t = None
        self._log = open(log_path, "a", encoding="utf-8", buffering=1)
        self._flush_handle = None
        self.on_input = None     # callable(bytes): bytes typed by a console client
        self.filter = None       # callable(bytes) -> bytes: applied to output before anyone sees it
        self.taps = []           # callables(bytes): other ends of the UART TX line (the USB serial port)

    # ------------------------------------------------------------------ TCP serial port
    async def start(self, port):
        self._server, self.port = await serve_loopback(self._client, port)
        return self.port

    async def _client(self, reader, writer):
        sock = writer.get_extra_info("socket")
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._clients.add(writer)
        self.note("console client connected from %s" % (writer.get_extra_info("peername"),))
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                if self.on_input is not None:
                    self.on_input(data)
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients.discard(writer)
            try:
                writer.close()
            except Exception:
                pass

    @property
    def url(self):
        return "socket://127.0.0.1:%d" % self.port if self.port else None

    # ------------------------------------------------------------------ output path
    def feed(self, data):
        """Bytes the board wrote to its serial port. A bare LF becomes CR LF, as the ESP32 port's
        print() does (mp_hal_stdout_tx_strn_cooked); the unix port writes text and binary alike,
        so the one binary protocol the firmware writes on its console, an Improv Serial packet
        (IMPROV, version 1, type 1-4, length, data, checksum), passes uncooked, as
        sys.stdout.buffer.write() leaves it on the chip (mp_hal_stdout_tx_strn)."""
        out = bytearray()
        for b in data:
            if self._raw_left:
                out.append(b)
                self._raw_left -= 1
                self._prev_cr = False
                continue
            if self._raw_len_next:
                out.append(b)
                self._raw_len_next = False
                self._raw_left = b + 1             # data and checksum
                continue
            if b == 0x0A and not self._prev_cr:
                out += b"\r\n"
            else:
                out.append(b)
            self._prev_cr = b == 0x0D
            t = self._improv_tail = (self._improv_tail + bytes((b,)))[-8:]
            if len(t) == 8 and t[:6] == b"IMPROV" and t[6] == 1 and 1 <= t[7] <= 4:
                self._raw_len_next = True
                self._improv_tail = b""
        data = bytes(out)
        if self.filter is not None:
            data = self.filter(data)
        if data:
            self.emit(data)

    def emit(self, data, record=True):
        """Send bytes to the console clients and record them (no translation). record=False:
        binary protocol traffic (the ROM loader's SLIP frames) stays out of the transcript."""
        for w in list(self._clients):
            try:
                w.write(data)
            except Exception:
                self._clients.discard(w)
        for tap in self.taps:
            tap(data)
        if not record:
            return
        text = self._decoder.decode(data)
        if text:
            self._append(text)
            self._log_text(text)

    def _append(self, text):
        if self._buf and len(self._buf[-1][1]) < 8192:
            s0, t0 = self._buf[-1]
            self._buf[-1] = (s0, t0 + text)
        else:
            self._buf.append((self.end, text))
        self._buf_len += len(text)
        while self._buf_len > MAX_BUFFER and len(self._buf) > 1:
            _start, old = self._buf.pop(0)
            self._buf_len -= len(old)
            self._buf_start += len(old)
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def end(self):
        return self._buf_start + self._buf_len

    def text(self, since=0):
        """(text, start offset) of the transcript from absolute offset `since`."""
        since = min(max(since, self._buf_start), self.end)
        starts = [s for s, _t in self._buf]
        i = max(bisect.bisect_right(starts, since) - 1, 0)
        if not self._buf:
            return "", since
        tail = "".join(t for _s, t in self._buf[i:])
        return tail[since - self._buf[i][0]:], since

    async def expect(self, pattern, timeout, since):
        rx = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            text, start = self.text(since)
            m = rx.search(text)
            if m:
                return {"match": m.group(0), "groups": list(m.groups()), "start": start + m.start(),
                        "end": start + m.end(), "before": text[:m.start()][-2000:]}
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------------------ log file
    def _log_text(self, text):
        now = time.time()
        for ch_line in text.splitlines(keepends=True):
            if self._line_t is None:
                self._line_t = now
            self._line += ch_line
            if ch_line.endswith("\n"):
                self._write_line(self._line_t, self._line.rstrip("\r\n"))
                self._line = ""
                self._line_t = None
        if self._line and self._flush_handle is None:
            try:
                self._flush_handle = asyncio.get_running_loop().call_later(0.5, self._flush_partial)
            except RuntimeError:
                pass

    def _flush_partial(self):
        self._flush_handle = None
        if self._line:
            self._write_line(self._line_t or time.time(), self._line.rstrip("\r") + "\\")
            self._line = ""
            self._line_t = None

    def _write_line(self, t, line):
        clean = "".join(c if c >= " " or c == "\t" else "\\x%02x" % ord(c) for c in line.replace("\r", ""))
        try:
            self._log.write("%s  %s\n" % (_stamp(t), clean))
        except ValueError:
            pass

    def note(self, message):
        """A line from the host itself (power, resets, Wi-Fi...), only in the log file."""
        self._flush_partial()
        try:
            self._log.write("%s  # [vboard] %s\n" % (_stamp(time.time()), message))
        except ValueError:
            pass

    async def close(self):
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush_partial()
        for w in list(self._clients):
            try:
                w.close()
            except Exception:
                pass
        self._clients.clear()
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except (asyncio.TimeoutError, Exception):
                pass
            self._server = None
        self._log.close()


async def serve_loopback(handler, port):
    """A TCP server on 127.0.0.1: on `port` (a board keeps its ports across restarts) or, if
    that is taken, on any free one. Returns (server, port)."""
    try:
        server = await asyncio.start_server(handler, "127.0.0.1", port)
    except OSError:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def abort_writer(writer):
    """Close a TCP connection with a reset (RST), like a network that gave up."""
    try:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        writer.transport.abort()
    except Exception:
        pass
