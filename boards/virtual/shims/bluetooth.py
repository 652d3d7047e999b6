# Virtual board: the `bluetooth` module. There is no radio (a fake at the one true boundary):
# advertising payloads are recorded by the host (what a scanner nearby would receive); the GATT
# database lives here as the port keeps it (extmod/modbluetooth.c, extmod/nimble): values of
# MP_BLUETOOTH_DEFAULT_ATTR_LEN (20) bytes unless gatts_set_buffer() says more, remote writes
# truncated to that or appended (and gatts_read then empties the value). A central reaches it
# through the host (boards/virtual/ble.py, the air): its connect, writes and MTU exchange arrive
# as the IRQs the ESP32 port raises (_IRQ_CENTRAL_CONNECT 1, _IRQ_CENTRAL_DISCONNECT 2,
# _IRQ_GATTS_WRITE 3, _IRQ_MTU_EXCHANGED 21); gatts_notify and gatts_write(..., True) reach it.
import _vb

FLAG_READ = 2
FLAG_WRITE_NO_RESPONSE = 4
FLAG_WRITE = 8
FLAG_NOTIFY = 16
FLAG_INDICATE = 32


class UUID:
    def __init__(self, value):
        if isinstance(value, UUID):
            self._v = value._v
        elif isinstance(value, int):
            if not 0 <= value <= 0xFFFF:
                raise ValueError("invalid UUID")
            self._v = value
        elif isinstance(value, (bytes, bytearray)):
            if len(value) not in (2, 4, 16):
                raise ValueError("invalid UUID")
            self._v = bytes(value)
        else:
            s = str(value).replace("-", "")
            if len(s) != 32:
                raise ValueError("invalid UUID")
            self._v = bytes(reversed(bytes.fromhex(s)))

    def __eq__(self, other):
        return isinstance(other, UUID) and other._v == self._v

    def __hash__(self):
        return hash(self._v)

    def __bytes__(self):
        if isinstance(self._v, int):
            return bytes((self._v & 0xFF, self._v >> 8))
        return self._v

    def __str__(self):
        if isinstance(self._v, int):
            return "UUID(0x%04x)" % self._v
        h = bytes(reversed(self._v)).hex()
        return "UUID('%s-%s-%s-%s-%s')" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    __repr__ = __str__


_ble = []


class BLE:
    def __new__(cls):
        if not _ble:
            obj = object.__new__(cls)
            obj._init()
            _ble.append(obj)
        return _ble[0]

    def __init__(self):
        pass

    def _init(self):
        self._active = False
        # mtu: the preferred ATT MTU, 256 (extmod/nimble/syscfg/syscfg.h MYNEWT_VAL_BLE_ATT_PREFERRED_MTU)
        self._cfg = {"gap_name": "MPY ESP32", "rxbuf": 256, "mtu": 256, "addr_mode": 0,
                     "bond": False, "mitm": False, "io": 3, "le_secure": False}
        self._irq = None
        self._adv = b""
        self._resp = b""
        self._values = {}
        self._size = {}           # value handle -> buffer size (gatts_set_buffer)
        self._append = set()      # handles whose remote writes append
        self._conns = set()
        self._next_handle = 1

    def active(self, active=None):
        if active is None:
            return self._active
        self._active = bool(active)
        _vb.send("ble", active=self._active)
        if not self._active:
            _vb.send("adv", interval_us=None, adv=None, resp=None, connectable=False)
            self._values, self._size, self._append, self._conns = {}, {}, set(), set()
            self._next_handle = 1
        return self._active

    def _need_active(self):
        if not self._active:
            raise OSError(1)   # EPERM, as the port does before active(True)

    def config(self, *args, **kw):
        if args:
            p = args[0]
            if p == "mac":
                self._need_active()
                m = bytearray(_vb.mac)
                m[5] = (m[5] + 2) & 0xFF     # the ESP32's BT MAC is the base MAC + 2
                return (0, bytes(m))
            if p in self._cfg:
                return self._cfg[p]
            raise ValueError("unknown config param")
        for k, v in kw.items():
            if k not in self._cfg:
                raise ValueError("unknown config param")
            self._cfg[k] = v
            if k == "mtu":
                _vb.send("ble_mtu", mtu=int(v))

    def irq(self, handler):
        self._irq = handler

    def gap_advertise(self, interval_us, adv_data=None, *, resp_data=None, connectable=True):
        self._need_active()
        if adv_data is not None:
            self._adv = bytes(adv_data.encode() if isinstance(adv_data, str) else adv_data)
        if resp_data is not None:
            self._resp = bytes(resp_data.encode() if isinstance(resp_data, str) else resp_data)
        if len(self._adv) > 31 or len(self._resp) > 31:
            raise OSError(22)   # EINVAL: legacy advertising carries at most 31 bytes
        if interval_us is None:
            _vb.send("adv", interval_us=None, adv=None, resp=None, connectable=False)
            return
        interval_us = int(interval_us) // 625 * 625
        _vb.send("adv", interval_us=interval_us, adv=self._adv.hex(), resp=self._resp.hex(),
                 connectable=bool(connectable))

    def gap_scan(self, duration_ms, interval_us=1280000, window_us=11250, active=False):
        self._need_active()
        if self._irq is not None and duration_ms is not None:
            self._irq(6, ())      # _IRQ_SCAN_DONE: nothing is ever found

    def gap_connect(self, *args, **kw):
        raise OSError(116)      # ETIMEDOUT: nobody to connect to

    def gap_disconnect(self, conn_handle):
        if conn_handle not in self._conns:
            return False
        _vb.send("gap_disconnect", conn=conn_handle)
        self._conns.discard(conn_handle)
        return True

    def gap_pair(self, conn_handle):
        raise OSError(107)

    def gap_passkey(self, conn_handle, action, passkey):
        return None

    def gatts_register_services(self, services_definition):
        self._need_active()
        out = []
        table = []
        for svc in services_definition:
            handles = []
            chars = []
            for ch in svc[1]:
                h = self._next_handle
                self._next_handle += 2
                self._values[h] = b""
                handles.append(h)
                chars.append({"uuid": _uuid_str(ch[0]), "flags": ch[1], "handle": h})
                for _d in (ch[2] if len(ch) > 2 else ()):
                    h = self._next_handle
                    self._next_handle += 1
                    self._values[h] = b""
                    handles.append(h)
            out.append(tuple(handles))
            table.append({"uuid": _uuid_str(svc[0]), "chars": chars})
        _vb.send("gatt_services", services=table)
        return tuple(out)

    def gatts_read(self, value_handle):
        v = self._values.get(value_handle, b"")
        if value_handle in self._append:
            self._values[value_handle] = b""     # append mode: a read empties the value
        return v

    def gatts_write(self, value_handle, data, send_update=False):
        self._values[value_handle] = bytes(data)
        _vb.send("gatt_value", handle=value_handle, value=bytes(data).hex(), update=bool(send_update))

    def gatts_notify(self, conn_handle, value_handle, data=None):
        self._need_active()
        if conn_handle not in self._conns:
            raise OSError(107)                    # ENOTCONN (BLE_HS_ENOTCONN)
        v = self._values.get(value_handle, b"") if data is None else bytes(data)
        _vb.send("gatt_notify", conn=conn_handle, handle=value_handle, value=v.hex())

    def gatts_indicate(self, conn_handle, value_handle, data=None):
        self.gatts_notify(conn_handle, value_handle, data)

    def gatts_set_buffer(self, value_handle, len, append=False):
        self._size[value_handle] = len
        if append:
            self._append.add(value_handle)
        else:
            self._append.discard(value_handle)

    def _remote(self, msg):
        """A central's action, carried by the host (the air)."""
        ev = msg.get("ev")
        conn = int(msg.get("conn", 0))
        if not self._active:
            return
        if ev == "connect":
            self._conns.add(conn)
            self._call(1, (conn, 0, memoryview(bytes.fromhex(msg.get("addr") or "000000000000"))))
        elif ev == "disconnect":
            self._conns.discard(conn)
            self._call(2, (conn, 0, memoryview(bytes.fromhex(msg.get("addr") or "000000000000"))))
        elif ev == "write":
            h = int(msg["handle"])
            v = bytes.fromhex(msg.get("value") or "")
            size = self._size.get(h, 20)          # MP_BLUETOOTH_DEFAULT_ATTR_LEN
            if h in self._append:
                v = (self._values.get(h, b"") + v)[:size]
            else:
                v = v[:size]
            self._values[h] = v
            self._call(3, (conn, h))
        elif ev == "mtu":
            self._call(21, (conn, int(msg.get("mtu") or 23)))

    def _call(self, event, data):
        if self._irq is not None:
            self._irq(event, data)

    def gattc_discover_services(self, conn_handle, uuid=None):
        raise OSError(107)

    def gattc_discover_characteristics(self, conn_handle, start_handle, end_handle, uuid=None):
        raise OSError(107)

    def gattc_discover_descriptors(self, conn_handle, start_handle, end_handle):
        raise OSError(107)

    def gattc_read(self, conn_handle, value_handle):
        raise OSError(107)

    def gattc_write(self, conn_handle, value_handle, data, mode=0):
        raise OSError(107)

    def gattc_exchange_mtu(self, conn_handle):
        raise OSError(107)


def _uuid_str(u):
    v = UUID(u)._v
    if isinstance(v, int):
        return "%04x" % v
    h = bytes(reversed(v)).hex()
    if len(v) == 2:
        return h
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def _on_ble(msg):
    if _ble:
        _ble[0]._remote(msg)


_vb.on("ble", _on_ble)
