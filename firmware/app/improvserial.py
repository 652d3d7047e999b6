# Improv Serial over the console UART (improvmode.py): packets "IMPROV"... in both
# directions, between whatever else the console carries. While it listens, Ctrl-C is an
# ordinary byte (micropython.kbd_intr(-1)), since packets may hold 0x03; a Ctrl-C outside a
# packet still stops the mode and drops to the REPL, as a person at the console expects.
import sys
import asyncio
import micropython
import devproto.improv as im


class SerialLink:
    kind = "the console"
    trusted = True                 # physical access: no authorization over the cable

    def __init__(self):
        self.parser = im.SerialParser()
        self.out = sys.stdout.buffer

    def _send(self, ptype, data):
        self.out.write(im.packet(ptype, data))

    def send_state(self, s):
        self._send(im.T_STATE, bytes([s]))

    def send_error(self, e):
        self._send(im.T_ERROR, bytes([e]))

    def send_result(self, cmd, strings):
        self._send(im.T_RESULT, im.frame(cmd, im.strings(strings), False))

    def send_scan(self, nets):
        for ssid, rssi, sec in nets:           # one result per network, then an empty one
            self.send_result(im.SCAN, (ssid, str(rssi), "NO" if sec == 0 else "YES"))
        self.send_result(im.SCAN, ())

    async def run(self, prov):
        micropython.kbd_intr(-1)
        try:
            r = asyncio.StreamReader(sys.stdin.buffer)
            while True:
                # one byte at a time: a stdin read of n bytes waits for all n, on the ESP32
                # (stdio_buffer_read) as on the unix port (mp_stream_rw)
                data = await r.read(1)
                if not data:
                    await asyncio.sleep_ms(50)
                    continue
                if data[0] == 3 and not self.parser.buf:
                    raise KeyboardInterrupt          # Ctrl-C typed at the console
                for ptype, payload in self.parser.feed(data):
                    if ptype is None:
                        self.send_error(im.E_INVALID_RPC)
                    elif ptype == im.T_RPC:
                        try:
                            cmd, d = im.parse_frame(payload, False)
                        except ValueError:
                            self.send_error(im.E_INVALID_RPC)
                            continue
                        await prov.rpc(self, cmd, d)
        finally:
            micropython.kbd_intr(3)

    def close(self):
        micropython.kbd_intr(3)
