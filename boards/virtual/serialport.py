"""A virtual board's USB serial port: RFC 2217 (telnet COM-PORT control) on 127.0.0.1, as a
DevKitC's USB-UART bridge with its auto-reset circuit.

The telnet and RFC 2217 side is pyserial's own server half (serial.rfc2217.PortManager), so
any pyserial client - esptool, mpremote, miniterm - opens `rfc2217://127.0.0.1:PORT` as it
opens /dev/ttyUSB0: it sets the baud rate and drives DTR and RTS.

- **Auto-reset circuit** (ESP32-DevKitC V4 schematic: two transistors between DTR/RTS and
  EN/IO0): EN is pulled low while RTS is asserted and DTR is not; IO0 is pulled low while DTR
  is asserted and RTS is not; any other pair leaves both high. The chip samples IO0 as EN
  rises. On a cable the RC on EN gives the second line of esptool's classic reset (RTS off
  right after DTR on) time to arrive; over RFC 2217 each line change is its own telnet message,
  and pyserial waits for the server's acknowledgement of each (~50 ms, rfc2217.py
  TelnetSubnegotiation.wait). So EN's rise here lasts EN_RC_S: IO0 pulled low at any moment of
  it means download mode. (Espressif's esp_rfc2217_server solves the same latency by replaying
  the whole reset sequence on the server, esp_port_manager.py EspPortManager; a circuit model
  keeps mpremote's open - DTR on, then RTS on, no EN edge - from resetting the chip.) esptool's
  classic reset lands in download mode, its hard reset (RTS pulsed) in a normal boot. A board made
  with `auto_reset=False` has no such circuit (lines change nothing), like a bare module on a
  USB-UART cable.
- **Line speed**: bytes move in both directions no faster than the baud rate the client set
  (10 bits per byte: 8N1), so flashing at 115200 takes what it takes on a real cable.
- **One client at a time**, as a serial device opened exclusively: a second connection is told
  the port is busy (a line naming the holder) and closed.
"""

import asyncio
import logging
import socket
import time

import serial.rfc2217

EN_RC_S = 0.2           # EN's rise, stretched to cover RFC 2217's one-acknowledged-line-at-a-time latency
LINE_BITS = 10          # 8N1: start + 8 data + stop bits per byte
BUSY_PREFIX = b"VBOARD-PORT-BUSY "


class _Lines:
    """The object PortManager drives as if it were a local serial port."""

    def __init__(self, port):
        self._port = port
        self.baudrate = 115200
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.break_condition = False
        self.cts = self.dsr = self.ri = self.cd = False
        self._dtr = False
        self._rts = False

    @property
    def dtr(self):
        return self._dtr

    @dtr.setter
    def dtr(self, v):
        self._dtr = bool(v)
        self._port.lines_changed()

    @property
    def rts(self):
        return self._rts

    @rts.setter
    def rts(self, v):
        self._rts = bool(v)
        self._port.lines_changed()

    def reset_input_buffer(self):
        pass

    def reset_output_buffer(self):
        self._port.purge_output()


class _Client:
    """One connected RFC 2217 client: telnet in, paced bytes both ways."""

    def __init__(self, port, reader, writer):
        self.port = port
        self.reader = reader
        self.writer = writer
        self.lines = _Lines(port)
        self.manager = serial.rfc2217.PortManager(self.lines, self, logger=logging.getLogger("vboard.rfc2217"))
        self._tx = asyncio.Queue()
        self._rx = asyncio.Queue()
        self.bytes_in = 0
        self.bytes_out = 0

    # PortManager's connection: telnet replies go straight out (they are not UART data)
    def write(self, data):
        try:
            self.writer.write(data)
        except Exception:
            pass

    def send(self, data):
        """UART TX -> this client, paced at the baud rate."""
        self._tx.put_nowait(bytes(data))

    def line_seconds(self, n):
        return n * LINE_BITS / float(max(self.lines.baudrate, 300))

    async def pump_tx(self):
        free = time.monotonic()
        while True:
            data = await self._tx.get()
            while not self._tx.empty() and len(data) < 4096:
                data += self._tx.get_nowait()
            free = max(free, time.monotonic()) + self.line_seconds(len(data))
            delay = free - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.bytes_out += len(data)
            self.write(b"".join(self.manager.escape(data)))

    async def pump_rx(self):
        free = time.monotonic()
        while True:
            data = await self._rx.get()
            free = max(free, time.monotonic()) + self.line_seconds(len(data))
            delay = free - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.bytes_in += len(data)
            self.port.deliver(data)

    async def serve(self):
        tasks = [asyncio.ensure_future(self.pump_tx()), asyncio.ensure_future(self.pump_rx())]
        try:
            while True:
                raw = await self.reader.read(65536)
                if not raw:
                    break
                data = b"".join(self.manager.filter(raw))
                if data:
                    self._rx.put_nowait(data)
        except (ConnectionError, OSError):
            pass
        finally:
            for t in tasks:
                t.cancel()


class SerialPort:
    """The RFC 2217 server of one board. `board` is the runtime: it gets `uart_rx(bytes)`,
    `strap(en_high, io0_low)` and `note(text)`; `send(bytes)` is its UART TX."""

    def __init__(self, board, auto_reset=True):
        self.board = board
        self.auto_reset = auto_reset
        self.port = None
        self.client = None
        self._server = None
        self._en_high = True
        self._rise = None           # EN is rising: the timer that ends the rise
        self.stats = {"connections": 0, "refused_busy": 0, "bytes_in": 0, "bytes_out": 0}

    async def start(self, port=0):
        from .console import serve_loopback
        self._server, self.port = await serve_loopback(self._accept, port)
        return self.port

    @property
    def url(self):
        return "rfc2217://127.0.0.1:%d" % self.port if self.port else None

    async def _accept(self, reader, writer):
        peer = writer.get_extra_info("peername")
        if self.client is not None:
            self.stats["refused_busy"] += 1
            holder = self.client.writer.get_extra_info("peername")
            self.board.note("serial port busy: refused %s (held by %s)" % (peer, holder))
            try:
                writer.write(BUSY_PREFIX + ("%s:%s\r\n" % tuple(holder[:2])).encode())
                await writer.drain()
            except Exception:
                pass
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        try:
            # a UART has no Nagle: without this every small reply waits for a delayed ACK (~40-200 ms)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        client = _Client(self, reader, writer)
        self.client = client
        self.stats["connections"] += 1
        self.board.note("serial port opened by %s" % (peer,))
        try:
            await client.serve()
        finally:
            self.stats["bytes_in"] += client.bytes_in
            self.stats["bytes_out"] += client.bytes_out
            if self.client is client:
                self.client = None
                self.board.note("serial port closed (%d bytes in, %d out)" % (client.bytes_in, client.bytes_out))
                # the bridge closes: the kernel drops DTR and RTS (HUPCL), both lines high again
                client.lines._dtr = client.lines._rts = False
                self.lines_changed(client.lines)
            try:
                writer.close()
            except Exception:
                pass

    def send(self, data):
        if self.client is not None:
            self.client.send(data)

    def deliver(self, data):
        self.board.uart_rx(data)

    def purge_output(self):
        c = self.client
        if c is not None:
            while not c._tx.empty():
                c._tx.get_nowait()

    def baudrate(self):
        return self.client.lines.baudrate if self.client is not None else None

    def set_baudrate(self, baud):
        """The chip changed its UART speed (CHANGE_BAUDRATE): the line follows once the client
        sets the same rate; until then the client's setting paces it."""
        self.board.note("chip UART now %d baud" % baud)

    def lines_changed(self, lines=None):
        lines = lines or (self.client.lines if self.client is not None else None)
        if lines is None or not self.auto_reset:
            return
        en_high = not (lines.rts and not lines.dtr)
        io0_low = lines.dtr and not lines.rts
        loop = asyncio.get_running_loop()
        if not en_high:
            if self._rise is not None:
                self._rise.cancel()
                self._rise = None
            if self._en_high:
                self._en_high = False
                self.board.strap(False, False)
        elif not self._en_high:
            self._en_high = True
            self._rise = loop.call_later(EN_RC_S, self._released, False)
            if io0_low:
                self._released(True)
        elif self._rise is not None and io0_low:
            self._released(True)         # IO0 pulled low while EN is still rising

    def _released(self, io0_low):
        if self._rise is not None:
            self._rise.cancel()
            self._rise = None
        self.board.strap(True, io0_low)

    async def abort_client(self):
        """The USB cable is pulled: the connection drops without a goodbye."""
        from .console import abort_writer
        c = self.client
        if c is not None:
            abort_writer(c.writer)

    async def close(self):
        await self.abort_client()
        if self._server is not None:
            self._server.close()
            self._server = None
