"""A virtual board's BLE radio, as a central (a phone, a laptop's bleak) would meet it - a FAKE
at the one true boundary: this machine has no BLE controller, so no radio packet is sent.

The firmware's `bluetooth` calls stay real MicroPython (the shim, shims/bluetooth.py, keeps
the board's GATT database and raises the IRQs the ESP32 port raises); this module is the air
between the board and one central. It serves each board's GATT link on a loopback TCP port
(`ble_url`, tcp://127.0.0.1:PORT) in JSON lines, and boards/virtual/bleak_backend.py makes
bleak's real client API speak it. One connection is one BLE connection:

    central -> host   {"op": "connect", "mtu": 517}            -> {"ok", "conn", "mtu", "services"}
                      {"op": "read", "handle", "id"}          -> {"id", "ok", "value"}
                      {"op": "write", "handle", "value", "response", "id"} -> {"id", "ok"}
                      {"op": "subscribe", "handle", "on", "id"} -> {"id", "ok"}
    host -> central   {"notify": handle, "value"}              (values are hex)

What it keeps of a real link (NimBLE, as MicroPython's ESP32 port uses it): a connection only
while the board advertises connectably (advertising stops when a central connects, and the
firmware must start it again after the disconnect); the MTU is the smaller of the central's
and the board's preferred (256, NimBLE's BLE_ATT_PREFERRED_MTU); a notification carries at most
MTU-3 bytes; a write without response at most MTU-3 bytes, a write with response up to 512
(a long write); a read returns the value the firmware last wrote with gatts_write. What it does
not model: radio timing, range, packet loss, pairing and encryption.
"""

import asyncio
import json

from .console import serve_loopback

BOARD_MTU = 256          # extmod/nimble/syscfg/syscfg.h MYNEWT_VAL_BLE_ATT_PREFERRED_MTU (ESP-IDF's default too)
CONN = 0                 # the one connection's handle, as NimBLE numbers its first connection
CENTRAL_ADDR = "c0ffee000001"


class BleRadio:
    def __init__(self, board):
        self.board = board            # the runtime: send_board(msg), note(text)
        self.port = None
        self._server = None
        self.active = False
        self.advertising = False      # connectable advertising on
        self.services = []
        self.values = {}
        self.pref_mtu = BOARD_MTU
        self.client = None
        self.stats = {"connections": 0, "notifications": 0, "writes": 0}

    async def start(self, port=0):
        self._server, self.port = await serve_loopback(self._accept, port)
        return self.port

    @property
    def url(self):
        return "tcp://127.0.0.1:%d" % self.port if self.port else None

    async def close(self):
        self.board_off()
        if self._server is not None:
            self._server.close()
            self._server = None

    # ---- what the board's firmware does (shim events) ------------------------------------
    def on_active(self, on):
        self.active = bool(on)
        if not on:
            self.advertising = False
            self.services, self.values = [], {}
            self._drop("BLE turned off")

    def on_adv(self, interval_us, connectable):
        self.advertising = interval_us is not None and bool(connectable)

    def on_services(self, services):
        self.services = services
        self.values = {}

    def on_value(self, handle, value, update):
        self.values[handle] = value
        if update:
            self._push(handle, value)

    def on_notify(self, conn, handle, value):
        if self.client is not None and conn == CONN:
            self._push(handle, value)

    def on_gap_disconnect(self, conn):
        if conn == CONN:
            self._drop("the board disconnected", tell_board=True)

    def board_off(self):
        """The board lost power or reset: its radio is gone, and so is the link."""
        self.active = self.advertising = False
        self.services, self.values = [], {}
        self._drop("the board is off")

    # ---- the central's side ----------------------------------------------------------------
    def _push(self, handle, value):
        c = self.client
        if c is None or handle not in c["subs"]:
            return
        self.stats["notifications"] += 1
        self._send(c, {"notify": handle, "value": value[:c["mtu"] - 3].hex()})

    def _send(self, c, msg):
        try:
            c["writer"].write((json.dumps(msg) + "\n").encode())
        except Exception:
            pass

    def _drop(self, why, tell_board=False):
        c, self.client = self.client, None
        if c is None:
            return
        self.board.note("BLE: central disconnected (%s)" % why)
        if tell_board:
            self.board.send_board({"op": "ble", "ev": "disconnect", "conn": CONN, "addr": CENTRAL_ADDR})
        try:
            c["writer"].close()
        except Exception:
            pass

    def _char(self, handle):
        for s in self.services:
            for ch in s["chars"]:
                if ch["handle"] == handle:
                    return ch
        return None

    async def _accept(self, reader, writer):
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            req = json.loads(line or b"{}")
        except (asyncio.TimeoutError, ValueError, ConnectionError, OSError):
            writer.close()
            return
        why = None
        if req.get("op") != "connect":
            why = "expected a connect"
        elif self.client is not None:
            why = "the board is connected to another central"
        elif not (self.active and self.advertising):
            why = "the board is not advertising (BLE off, or not connectable)"
        if why:
            writer.write((json.dumps({"ok": False, "error": why}) + "\n").encode())
            writer.close()
            return
        mtu = max(23, min(int(req.get("mtu") or 23), self.pref_mtu))
        c = self.client = {"writer": writer, "subs": set(), "mtu": mtu}
        self.advertising = False                     # NimBLE stops advertising on a connection
        self.stats["connections"] += 1
        self.board.note("BLE: a central connected (MTU %d)" % mtu)
        self.board.send_board({"op": "ble", "ev": "connect", "conn": CONN, "addr": CENTRAL_ADDR})
        self.board.send_board({"op": "ble", "ev": "mtu", "conn": CONN, "mtu": mtu})
        self._send(c, {"ok": True, "conn": CONN, "mtu": mtu, "services": self.services})
        try:
            while self.client is c:
                line = await reader.readline()
                if not line:
                    break
                try:
                    self._request(c, json.loads(line))
                except (ValueError, KeyError, TypeError) as e:
                    self._send(c, {"id": None, "ok": False, "error": "bad request: %s" % e})
        except (ConnectionError, OSError):
            pass
        finally:
            if self.client is c:
                self._drop("the central went away", tell_board=True)

    def _request(self, c, req):
        op, rid, handle = req.get("op"), req.get("id"), int(req.get("handle", 0))
        ch = self._char(handle)
        if ch is None:
            return self._send(c, {"id": rid, "ok": False, "error": "no characteristic with handle %d" % handle})
        flags = ch["flags"]
        if op == "read":
            if not flags & 0x02:
                return self._send(c, {"id": rid, "ok": False, "error": "read not permitted"})
            return self._send(c, {"id": rid, "ok": True, "value": self.values.get(handle, b"")[:512].hex()})
        if op == "write":
            value = bytes.fromhex(req.get("value") or "")
            response = bool(req.get("response"))
            if not flags & (0x08 if response else 0x04):
                return self._send(c, {"id": rid, "ok": False, "error": "write not permitted"})
            if len(value) > (512 if response else c["mtu"] - 3):
                return self._send(c, {"id": rid, "ok": False, "error": "value too long for this write"})
            self.stats["writes"] += 1
            self.board.send_board({"op": "ble", "ev": "write", "conn": CONN, "handle": handle, "value": value.hex()})
            return self._send(c, {"id": rid, "ok": True})
        if op == "subscribe":
            if not flags & 0x30:
                return self._send(c, {"id": rid, "ok": False, "error": "notify not permitted"})
            (c["subs"].add if req.get("on", True) else c["subs"].discard)(handle)
            return self._send(c, {"id": rid, "ok": True})
        return self._send(c, {"id": rid, "ok": False, "error": "unknown op %r" % op})
