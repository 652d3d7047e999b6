"""`provision wifi`: Wi-Fi credentials into a board over Improv (improv-wifi.com), the protocol
the firmware speaks in its Wi-Fi setup mode (firmware/app/improvmode.py) - over the USB serial
port (Improv Serial), or over BLE with bleak. One codec for both sides: devproto.improv.

The board tries the network before it keeps it: a wrong password or an absent network comes back
as Improv error 0x03 ("unable to connect") and nothing is kept. Over BLE the board asks for a
press of its button first (a 1-minute authorization); without it the settings are refused with
0x04 ("not authorized"). The password is sent to the board only: never printed or logged.
"""

import asyncio
import time

import devproto.improv as im

from . import errors

ANSWER_S = 40.0                     # the board's own connect attempt takes up to 20 s


def _outcome(events, ssid, where):
    """Raise the ProvisionError for an Improv error code, or return the result's strings."""
    for kind, value in events:
        if kind == "error" and value == im.E_UNABLE_TO_CONNECT:
            raise errors.WifiRejected("the board could not join Wi-Fi %r with that password (Improv error 0x03, "
                                      "unable to connect)" % ssid)
        if kind == "error" and value == im.E_NOT_AUTHORIZED:
            raise errors.NotAuthorized("the board on %s refused the Wi-Fi settings: not authorized (Improv error "
                                       "0x04); its button was not pressed" % where)
        if kind == "error" and value not in (im.E_NONE, None):
            raise errors.ProvisionError("the board answered Improv error 0x%02x (%s)"
                                        % (value, im.ERRORS.get(value, "unknown")))
    return None


# ---- Improv Serial ----------------------------------------------------------------------

class SerialImprov:
    """Improv over a serial port (a device path or rfc2217:// URL); opening it resets nothing."""

    def __init__(self, port):
        from .serialopen import open_port
        self.port = port
        try:
            self.s = open_port(port, 115200)
        except Exception as e:
            from . import ports
            raise ports.classify_open_error(port, e) or errors.PortBusy("cannot open %s: %s" % (port, e))
        self.s.timeout = 0.1
        self.parser = im.SerialParser()

    def close(self):
        self.s.close()

    def rpc(self, cmd, data=b""):
        self.s.write(im.packet(im.T_RPC, im.frame(cmd, data, False)) + b"\n")

    def packets(self, timeout):
        """Yield (type, data) packets the board sends, until timeout (s) passes without one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = self.s.read(256)
            for p in self.parser.feed(chunk):
                deadline = time.monotonic() + timeout
                yield p

    def call(self, cmd, data=b"", until=None, timeout=ANSWER_S):
        """Send one RPC; collect [(kind, value)] until `until(events)` says done, or an error."""
        self.rpc(cmd, data)
        events = []
        for ptype, payload in self.packets(timeout):
            if ptype == im.T_STATE:
                events.append(("state", payload[0]))
            elif ptype == im.T_ERROR:
                events.append(("error", payload[0]))
                if payload[0] != im.E_NONE:
                    return events
            elif ptype == im.T_RESULT:
                c, d = im.parse_frame(payload, False)
                events.append(("result", (c, im.parse_strings(d))))
            if until is not None and until(events):
                return events
        if not events:
            raise errors.NoImprov("no Improv answer from the board on %s" % self.port)
        return events


def _done_result(cmd):
    return lambda ev: any(k == "result" and v[0] == cmd for k, v in ev)


def wifi_serial(port, ssid, password):
    """Set Wi-Fi over the serial port; returns the board's device info."""
    c = SerialImprov(port)
    try:
        info = c.call(im.DEVICE_INFO, until=_done_result(im.DEVICE_INFO), timeout=5.0)
        device = [v[1] for k, v in info if k == "result"]
        events = c.call(im.WIFI, im.wifi_data(ssid, password), until=_done_result(im.WIFI))
        _outcome(events, ssid, port)
        if not any(k == "state" and v == im.PROVISIONED for k, v in events):
            raise errors.NoImprov("the board on %s did not confirm the Wi-Fi settings" % port)
        return device[0] if device else []
    finally:
        c.close()


def scan_serial(port):
    """[(ssid, rssi, secured)] the board sees."""
    c = SerialImprov(port)
    try:
        events = c.call(im.SCAN, until=lambda ev: any(k == "result" and not v[1] for k, v in ev), timeout=10.0)
        _outcome(events, "", port)
        return [(v[1][0], int(v[1][1]), v[1][2] == "YES") for k, v in events if k == "result" and v[1]]
    finally:
        c.close()


# ---- Improv over BLE (bleak) -------------------------------------------------------------

def backends(kind):
    """(client backend, scanner backend) for bleak: None for the system's (BlueZ, ...), or the
    virtual boards' fake radio (boards/virtual/bleak_backend.py) for kind "vboard"."""
    if kind == "vboard":
        from boards.virtual.bleak_backend import VirtualBoardClient, VirtualBoardScanner
        return VirtualBoardClient, VirtualBoardScanner
    return None, None


async def _find(address, scanner, timeout=15.0):
    from bleak import BleakScanner
    kw = {"backend": scanner} if scanner else {}
    if address:
        dev = await BleakScanner.find_device_by_address(address, timeout=timeout, **kw)
    else:
        found = await BleakScanner.discover(timeout=min(timeout, 5.0), service_uuids=[im.SERVICE], **kw)
        dev = found[0] if found else None
    if dev is None:
        raise errors.NoImprov("no board advertising Improv%s" % (" at %s" % address if address else ""),
                              fix="Bring the laptop near the board; " + errors.NoImprov.fix)
    return dev


async def _wifi_ble(address, ssid, password, backend, wait_press, on_wait):
    from bleak import BleakClient
    client_b, scanner_b = backends(backend)
    dev = await _find(address, scanner_b)
    kw = {"backend": client_b} if client_b else {}
    events = asyncio.Queue()
    async with BleakClient(dev, **kw) as c:
        def on(kind):
            return lambda _ch, data: events.put_nowait((kind, bytes(data)))
        await c.start_notify(im.CHAR_STATE, on("state"))
        await c.start_notify(im.CHAR_ERROR, on("error"))
        await c.start_notify(im.CHAR_RESULT, on("result"))
        state = (await c.read_gatt_char(im.CHAR_STATE))[0]
        info = None
        if (await c.read_gatt_char(im.CHAR_CAPS))[0] & im.CAP_DEVICE_INFO:
            await c.write_gatt_char(im.CHAR_RPC, im.frame(im.DEVICE_INFO), response=True)
            info = await _result(events, im.DEVICE_INFO, 10.0)
        if state == im.AUTH_REQUIRED and wait_press > 0:
            on_wait(info)
            deadline = time.monotonic() + wait_press
            while state == im.AUTH_REQUIRED and time.monotonic() < deadline:
                try:
                    kind, v = await asyncio.wait_for(events.get(), max(0.1, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if kind == "state":
                    state = v[0]
        await c.write_gatt_char(im.CHAR_RPC, im.frame(im.WIFI, im.wifi_data(ssid, password)), response=True)
        seen, provisioned = [], False
        deadline = time.monotonic() + ANSWER_S
        while time.monotonic() < deadline:
            try:
                kind, v = await asyncio.wait_for(events.get(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if kind == "error" and v[0] != im.E_NONE:
                _outcome([("error", v[0])], ssid, dev.address)
            if kind == "state" and v[0] == im.PROVISIONED:
                provisioned = True
            if kind == "result" and v[0] == im.WIFI and provisioned:
                return info or []
            seen.append(kind)
        raise errors.NoImprov("the board at %s did not confirm the Wi-Fi settings" % dev.address)


async def _result(events, cmd, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kind, v = await asyncio.wait_for(events.get(), deadline - time.monotonic())
        if kind == "result" and v[0] == cmd:
            return im.parse_strings(im.parse_frame(v)[1])
    return None


def wifi_ble(address, ssid, password, backend=None, wait_press=60.0, on_wait=None):
    """Set Wi-Fi over BLE (the board with this Bluetooth address, or the first one advertising
    Improv); waits up to wait_press s for the button press the board asks for. Returns the
    board's device info."""
    from bleak.exc import BleakError
    try:
        return asyncio.run(_wifi_ble(address, ssid, password, backend, wait_press, on_wait or (lambda info: None)))
    except BleakError as e:
        raise errors.ProvisionError("Bluetooth: %s" % e, fix="Bring the laptop near the board, check that "
                                    "Bluetooth is on (`bluetoothctl show`), and run the command again.")
