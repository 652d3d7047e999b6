"""bleak on virtual boards: a bleak backend (client and scanner) whose radio is a FAKE - this
machine has no BLE controller (no /dev/vhci), so the air between a central and a virtual board
is a loopback TCP link to the board's host (boards/virtual/ble.py). bleak's client API stays
real: code written for a board on a desk uses it unchanged and passes backend=...:

    from bleak import BleakClient, BleakScanner
    from boards.virtual.bleak_backend import VirtualBoardClient, VirtualBoardScanner
    dev = await BleakScanner.find_device_by_address(addr, backend=VirtualBoardScanner)
    async with BleakClient(dev, backend=VirtualBoardClient) as c: ...

The scanner lists the boards of VBOARD_HOME (the host that runs them: a daemon or a BoardFarm)
that advertise, with their advertising data parsed as a radio would deliver it (local name,
service UUIDs, service data, manufacturer data, TX power); a board's address is its Bluetooth
MAC (base MAC + 2). The client connects to the board's GATT link: reads, writes (with and
without response), notifications, the negotiated MTU. What the fake cannot show: radio timing,
range, interference, pairing.
"""

import asyncio
import json
import os
import uuid as uuidlib

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

CENTRAL_MTU = 517                     # what BlueZ asks for
PROPS = ((0x02, "read"), (0x04, "write-without-response"), (0x08, "write"), (0x10, "notify"), (0x20, "indicate"))


def _home():
    return os.environ.get("VBOARD_HOME")


def _boards(home=None):
    from .rpc import RemoteTransport
    return RemoteTransport(home or _home(), autostart=False).call("list")


def bt_address(mac):
    m = bytearray.fromhex(mac.replace(":", ""))
    m[5] = (m[5] + 2) & 0xFF
    return ":".join("%02X" % b for b in m)


def _full_uuid(u):
    if len(u) == 4:
        return "0000%s-0000-1000-8000-00805f9b34fb" % u.lower()
    return str(uuidlib.UUID(u))


def parse_adv(adv, resp=None):
    """AdvertisementData fields from raw advertising (and scan response) payloads."""
    name, services, sdata, mdata, tx = None, [], {}, {}, None
    for payload in (adv, resp):
        data = bytes.fromhex(payload or "")
        i = 0
        while i + 1 < len(data):
            n = data[i]
            if n == 0 or i + 1 + n > len(data):
                break
            t, v = data[i + 1], data[i + 2:i + 1 + n]
            if t in (0x08, 0x09):
                name = v.decode("utf-8", "replace")
            elif t in (0x02, 0x03):
                services += [_full_uuid(v[k:k + 2][::-1].hex()) for k in range(0, len(v) - 1, 2)]
            elif t in (0x06, 0x07):
                services += [str(uuidlib.UUID(bytes=bytes(v[k:k + 16][::-1]))) for k in range(0, len(v) - 15, 16)]
            elif t == 0x16 and len(v) >= 2:
                sdata[_full_uuid(v[:2][::-1].hex())] = bytes(v[2:])
            elif t == 0xFF and len(v) >= 2:
                mdata[int.from_bytes(v[:2], "little")] = bytes(v[2:])
            elif t == 0x0A and v:
                tx = int.from_bytes(v[:1], "little", signed=True)
            i += 1 + n
    return name, services, sdata, mdata, tx


class VirtualBoardScanner(BaseBleakScanner):
    """Advertisements of the running virtual boards (polled from their host, as they change)."""

    def __init__(self, detection_callback=None, service_uuids=None, scanning_mode="active", *, home=None, **kwargs):
        super().__init__(detection_callback, service_uuids)
        self.home = home
        self._task = None

    async def start(self):
        self.seen_devices = {}
        self._task = asyncio.ensure_future(self._poll())

    async def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _poll(self):
        while True:
            boards = await asyncio.get_running_loop().run_in_executor(None, _boards, self.home)
            for b in boards:
                ble = b.get("ble") or {}
                if b.get("state") != "running" or not ble.get("advertising") or not ble.get("adv"):
                    continue
                name, services, sdata, mdata, tx = parse_adv(ble.get("adv"), ble.get("resp"))
                if not self.is_allowed_uuid(services):
                    continue
                addr = bt_address(b["mac"])
                adv = AdvertisementData(local_name=name, manufacturer_data=mdata, service_data=sdata,
                                        service_uuids=services, tx_power=tx,
                                        rssi=int((b.get("world") or {}).get("rssi", -60)), platform_data=(b["name"],))
                dev = self.create_or_update_device(addr, addr, name, {"board": b["name"], "ble_url": b["ble_url"]}, adv)
                self.call_detection_callbacks(dev, adv)
            await asyncio.sleep(0.3)


class VirtualBoardClient(BaseBleakClient):
    """A connection to one virtual board's GATT server over its (fake) BLE link."""

    def __init__(self, address_or_ble_device, services=None, *, home=None, **kwargs):
        super().__init__(address_or_ble_device, disconnected_callback=kwargs.pop("disconnected_callback", None),
                         timeout=kwargs.pop("timeout", 10.0))
        self._details = address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        self.home = home
        self._reader = self._writer = None
        self._mtu = 23
        self._pending = {}
        self._notify = {}
        self._ids = 0
        self._task = None

    @property
    def mtu_size(self):
        return self._mtu

    @property
    def name(self):
        return (self._details or {}).get("board") or self.address

    @property
    def is_connected(self):
        return self._writer is not None and not self._writer.is_closing()

    def _url(self):
        if self._details and self._details.get("ble_url"):
            return self._details["ble_url"]
        for b in _boards(self.home):
            if b.get("mac") and bt_address(b["mac"]) == self.address.upper():
                return b.get("ble_url")
        raise BleakDeviceNotFoundError(self.address, "no virtual board with Bluetooth address %s" % self.address)

    async def connect(self, pair=False, **kwargs):
        url = await asyncio.get_running_loop().run_in_executor(None, self._url)
        host, port = url[len("tcp://"):].rsplit(":", 1)
        self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), self._timeout)
        self._writer.write((json.dumps({"op": "connect", "mtu": CENTRAL_MTU}) + "\n").encode())
        line = await asyncio.wait_for(self._reader.readline(), self._timeout)
        hello = json.loads(line or b"{}")
        if not hello.get("ok"):
            self._writer.close()
            self._writer = None
            raise BleakError("cannot connect to %s: %s" % (self.address, hello.get("error", "the link closed")))
        self._mtu = hello["mtu"]
        self.services = self._collection(hello["services"])
        self._task = asyncio.ensure_future(self._read_loop())

    def _collection(self, services):
        coll = BleakGATTServiceCollection()
        for s in services:
            chars = s["chars"]
            svc = BleakGATTService(s, (chars[0]["handle"] - 1) if chars else 0, _full_uuid(s["uuid"]))
            coll.add_service(svc)
            for ch in chars:
                props = [n for bit, n in PROPS if ch["flags"] & bit]
                c = BleakGATTCharacteristic(ch, ch["handle"], _full_uuid(ch["uuid"]), props,
                                            lambda: self._mtu - 3, svc)
                coll.add_characteristic(c)
        return coll

    async def _read_loop(self):
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                if "notify" in msg:
                    cb = self._notify.get(msg["notify"])
                    if cb is not None:
                        cb(bytearray.fromhex(msg["value"]))
                else:
                    fut = self._pending.pop(msg.get("id"), None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            lost = self._writer is not None
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(BleakError("disconnected from %s" % self.address))
            self._pending.clear()
            self._writer = None
            if lost and self._disconnected_callback is not None:
                self._disconnected_callback()

    async def _call(self, op, **kw):
        if not self.is_connected:
            raise BleakError("not connected to %s" % self.address)
        self._ids += 1
        fut = asyncio.get_running_loop().create_future()
        self._pending[self._ids] = fut
        self._writer.write((json.dumps(dict(kw, op=op, id=self._ids)) + "\n").encode())
        msg = await asyncio.wait_for(fut, self._timeout)
        if not msg.get("ok"):
            raise BleakError("%s on %s: %s" % (op, self.address, msg.get("error")))
        return msg

    async def disconnect(self):
        w, self._writer = self._writer, None
        if w is not None:
            w.close()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def pair(self, *args, **kwargs):
        raise NotImplementedError("virtual boards do not pair")

    async def unpair(self):
        raise NotImplementedError("virtual boards do not pair")

    async def read_gatt_char(self, characteristic, *, use_cached=False, **kwargs):
        return bytearray.fromhex((await self._call("read", handle=characteristic.handle))["value"])

    async def read_gatt_descriptor(self, descriptor, *, use_cached=False, **kwargs):
        raise BleakError("descriptors are not modelled on virtual boards")

    async def write_gatt_char(self, characteristic, data, response):
        await self._call("write", handle=characteristic.handle, value=bytes(data).hex(), response=bool(response))

    async def write_gatt_descriptor(self, descriptor, data):
        raise BleakError("descriptors are not modelled on virtual boards")

    async def start_notify(self, characteristic, callback, **kwargs):
        self._notify[characteristic.handle] = callback
        await self._call("subscribe", handle=characteristic.handle, on=True)

    async def stop_notify(self, characteristic):
        self._notify.pop(characteristic.handle, None)
        await self._call("subscribe", handle=characteristic.handle, on=False)
