# Improv over BLE (improvmode.py) on MicroPython's `bluetooth` API: the Improv GATT service
# (state, error, RPC command, RPC result, capabilities), advertised with its UUID and the
# service data 0x4677 (state, capabilities) in one 31-byte advertisement, the name in the
# scan response. IRQ -> flag only; one task reads the RPC characteristic. It is written in
# append mode (gatts_set_buffer(..., append=True)): a command longer than one BLE packet
# arrives in pieces that accumulate until the frame is whole.
import asyncio
import bluetooth
import devproto.improv as im
from micropython import const

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_F_READ = const(0x02)
_F_WRITE_NR = const(0x04)
_F_WRITE = const(0x08)
_F_NOTIFY = const(0x10)
_ADV_US = const(100000)
_CAPS = const(7)                   # identify, device info, scan
_AUTH = ("NO", "WEP", "WPA", "WPA2", "WPA2", "WPA2", "WPA3", "WPA3")   # network.SEC_* by number


class BleLink:
    kind = "BLE"
    trusted = False                # Wi-Fi settings need the button (improvmode.py)

    def __init__(self, name):
        self.name = name.encode()
        self.state = im.AUTH_REQUIRED
        self.conns = set()
        self.rx = b""
        self.flag = asyncio.ThreadSafeFlag()
        ble = self.ble = bluetooth.BLE()
        ble.active(True)
        ble.irq(self._irq)
        U = bluetooth.UUID
        svc = (U(im.SERVICE), ((U(im.CHAR_STATE), _F_READ | _F_NOTIFY), (U(im.CHAR_ERROR), _F_READ | _F_NOTIFY),
                               (U(im.CHAR_RPC), _F_WRITE | _F_WRITE_NR), (U(im.CHAR_RESULT), _F_READ | _F_NOTIFY),
                               (U(im.CHAR_CAPS), _F_READ)))
        ((self.h_state, self.h_error, self.h_rpc, self.h_result, self.h_caps),) = ble.gatts_register_services((svc,))
        ble.gatts_set_buffer(self.h_rpc, 256, True)
        ble.gatts_set_buffer(self.h_result, 258)
        ble.gatts_write(self.h_caps, bytes([_CAPS]))
        ble.gatts_write(self.h_error, bytes([im.E_NONE]))

    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            self.conns.add(data[0])
        elif event == _IRQ_CENTRAL_DISCONNECT:
            self.conns.discard(data[0])
            self.flag.set()                  # advertise again
        elif event == _IRQ_GATTS_WRITE and data[1] == self.h_rpc:
            self.flag.set()

    def _put(self, handle, value):
        self.ble.gatts_write(handle, value)
        for c in self.conns:
            try:
                self.ble.gatts_notify(c, handle, value)
            except OSError:
                pass

    def send_state(self, s):
        self.state = s
        self._put(self.h_state, bytes([s]))
        if not self.conns:
            self.advertise()

    def send_error(self, e):
        self._put(self.h_error, bytes([e]))

    def send_result(self, cmd, strings):
        self._put(self.h_result, im.frame(cmd, im.strings(strings)))

    def send_scan(self, nets):
        out, size = [], 0
        for ssid, rssi, sec in nets:       # one result: what fits in one RPC frame
            item = (ssid, str(rssi), _AUTH[sec] if 0 <= sec < len(_AUTH) else "WPA2")
            n = sum(len(s.encode()) + 1 for s in item)
            if size + n > 250:
                break
            out += item
            size += n
        self.send_result(im.SCAN, out)

    def advertise(self):
        adv = (b"\x02\x01\x06" + b"\x11\x07" + im.uuid_le(im.SERVICE)
               + b"\x09\x16\x77\x46" + bytes([self.state, _CAPS, 0, 0, 0, 0]))
        self.ble.gap_advertise(_ADV_US, adv, resp_data=bytes([len(self.name) + 1, 0x09]) + self.name)

    async def run(self, prov):
        self.advertise()
        while True:
            await self.flag.wait()
            if not self.conns:
                self.advertise()
            data = self.ble.gatts_read(self.h_rpc)          # append mode: reading empties it
            if data:
                self.rx += data
            while len(self.rx) >= 2 and len(self.rx) >= im.frame_length(self.rx):
                n = im.frame_length(self.rx)
                f, self.rx = self.rx[:n], self.rx[n:]
                try:
                    cmd, d = im.parse_frame(f)
                except ValueError:
                    self.rx = b""
                    self.send_error(im.E_INVALID_RPC)
                    continue
                await prov.rpc(self, cmd, d)

    def close(self):
        try:
            self.ble.gap_advertise(None)
            self.ble.active(False)
        except OSError:
            pass
