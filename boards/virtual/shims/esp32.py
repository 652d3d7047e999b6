# Virtual board: the ESP32 port's `esp32` module: deep-sleep wake sources, NVS (kept by the
# host next to the board's flash), a minimal Partition, the internal temperature sensor.
import _vb
import machine

WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True
HEAP_DATA = 4
HEAP_EXEC = 1

_chip = _vb.chip.get("name", "esp32")
_wake_kinds = _vb.chip.get("wake", ())


def _pid(p):
    return machine._pid(p)


def _check_rtc(pin):
    if pin not in _vb.chip.get("rtc_pins", ()):
        raise ValueError("invalid pin")


def wake_on_touch(wake):
    if machine._wakecfg["ext0"] is not None:
        raise ValueError("no resources")
    machine._wakecfg["touch"] = bool(wake)


def wake_on_ulp(wake):
    if machine._wakecfg["ext0"] is not None:
        raise ValueError("no resources")
    machine._wakecfg["ulp"] = bool(wake)


def wake_on_gpio(pins=None, level=WAKEUP_ALL_LOW):
    if pins is None:
        machine._wakecfg["gpio"] = None
        return
    ids = [_pid(p) for p in pins]
    machine._wakecfg["gpio"] = [ids, 1 if level else 0] if ids else None


def gpio_deep_sleep_hold(enable):
    _vb.send("deep_sleep_hold", on=bool(enable))


if "ext0" in _wake_kinds:
    def wake_on_ext0(pin=None, level=WAKEUP_ALL_LOW):
        if machine._wakecfg["touch"]:
            raise ValueError("no resources")
        if pin is None:
            machine._wakecfg["ext0"] = None
            return
        pid = _pid(pin)
        _check_rtc(pid)
        machine._wakecfg["ext0"] = [pid, 1 if level else 0]

if "ext1" in _wake_kinds:
    def wake_on_ext1(pins=None, level=WAKEUP_ALL_LOW):
        if pins is None:
            machine._wakecfg["ext1"] = None
            return
        ids = []
        for p in pins:
            pid = _pid(p)
            _check_rtc(pid)
            ids.append(pid)
        machine._wakecfg["ext1"] = [ids, 1 if level else 0] if ids else None


def _die_c():
    return _vb.w("temp_c", 20.0) + _vb.w("die_rise_c", 15.0)


if _chip == "esp32":
    def raw_temperature():
        # Fahrenheit-like raw value of the die sensor, as read on the ESP32
        return int(_die_c() * 9 / 5 + 32 + 0.5)
else:
    def mcu_temperature():
        return int(_die_c() + 0.5)


def idf_heap_info(capabilities):
    return [(327680, 150000, 110000, 140000)]


# ---------------------------------------------------------------------------------- NVS
_NOT_FOUND = (-4354, "ESP_ERR_NVS_NOT_FOUND")
_TYPE_MISMATCH = (-4355, "ESP_ERR_NVS_TYPE_MISMATCH")
_KEY_TOO_LONG = (-4361, "ESP_ERR_NVS_KEY_TOO_LONG")
_INVALID_LENGTH = (-4364, "ESP_ERR_NVS_INVALID_LENGTH")


class NVS:
    def __init__(self, namespace):
        if not isinstance(namespace, str) or not 0 < len(namespace) <= 15:
            raise OSError(*_KEY_TOO_LONG)
        self._ns = namespace
        self._pending = {}

    def _lookup(self, key, kind):
        if key in self._pending:
            v = self._pending[key]
        else:
            v = (_vb.nvs.get(self._ns) or {}).get(key)
        if v is None:
            raise OSError(*_NOT_FOUND)
        if v[0] != kind:
            raise OSError(*_TYPE_MISMATCH)
        return v[1]

    def _check_key(self, key):
        if not isinstance(key, str) or not 0 < len(key) <= 15:
            raise OSError(*_KEY_TOO_LONG)

    def get_i32(self, key):
        self._check_key(key)
        return self._lookup(key, "i32")

    def set_i32(self, key, value):
        self._check_key(key)
        value = int(value)
        if not -2147483648 <= value <= 2147483647:
            raise OverflowError("overflow converting long int to machine word")
        self._pending[key] = ["i32", value]

    def set_blob(self, key, value):
        self._check_key(key)
        if isinstance(value, str):
            value = value.encode()
        self._pending[key] = ["blob", bytes(value).hex()]

    def get_blob(self, key, buffer):
        self._check_key(key)
        data = bytes.fromhex(self._lookup(key, "blob"))
        if len(buffer) < len(data):
            raise OSError(*_INVALID_LENGTH)
        for i in range(len(data)):
            buffer[i] = data[i]
        return len(data)

    def erase_key(self, key):
        self._check_key(key)
        self._lookup_any(key)
        self._pending[key] = None

    def _lookup_any(self, key):
        if key in self._pending:
            if self._pending[key] is None:
                raise OSError(*_NOT_FOUND)
            return
        if key not in (_vb.nvs.get(self._ns) or {}):
            raise OSError(*_NOT_FOUND)

    def commit(self):
        if not self._pending:
            return
        ns = dict(_vb.nvs.get(self._ns) or {})
        for k, v in self._pending.items():
            if v is None:
                ns.pop(k, None)
            else:
                ns[k] = v
        self._pending = {}
        _vb.nvs[self._ns] = ns
        _vb.send("nvs", ns=self._ns, data=ns)


# ---------------------------------------------------------------------------- Partition
# ports/esp32/esp32_partition.c over the board's flash file (shims/_vbflash.py): the table is
# the one at 0x8000 plus the vfs partition main.c registers at boot. Reads and writes go to the
# file, with the chip's erase/program rules. OTA (BOOT, RUNNING, set_boot, get_next_update,
# mark_app_valid_cancel_rollback) and the bootloader's rollback rule: shims/_vbota.py.
_flash = [None]
_table = [None]


def _open_flash():
    if _flash[0] is None:
        import _vbflash
        size = (_vb.board.get("flash") or {}).get("size_bytes")
        f = _vbflash.Flash(_vb.flash_path, size)
        f.on_cut = _vb.flash_cut
        _flash[0] = f
        t = _vbflash.read_table(f)
        _table[0] = _vbflash.with_vfs(t, f.size) if t is not None else None
    return _flash[0]


def _table_or_none():
    _open_flash()
    return _table[0]


def _bootloader(soft):
    """The second-stage bootloader at a reset (the launcher calls it): which app partition runs,
    with the rollback rule (_vbota.boot)."""
    import _vbota
    return _vbota.boot(_open_flash(), _table[0], soft) if _table[0] else None


def _entries():
    _open_flash()
    if _table[0] is None:
        raise OSError(-261, "ESP_ERR_NOT_FOUND")
    return _table[0]


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=4096):
        import _vbflash
        if isinstance(id, tuple):            # (from find(): the table entry itself)
            e = id
        elif isinstance(id, int):
            # esp_ota_get_boot_partition / esp_ota_get_running_partition (_vbota.py)
            if id not in (Partition.BOOT, Partition.RUNNING):
                raise ValueError()
            import _vbota
            t = _entries()
            if id == Partition.RUNNING:
                label = _vbota.running[0] or _vbota.boot(_open_flash(), t, True)
            else:
                label = _vbota.Otadata(_open_flash(), t).boot_label()
            e = None
            for x in t:
                if x[0] == 0 and x[4] == label:
                    e = x
        else:
            e = None
            for kind in (0, 1):              # app partitions first, as esp32_partition_make_new
                for x in _entries():
                    if e is None and x[0] == kind and x[4] == id:
                        e = x
        if e is None:
            raise OSError(2)                 # esp32_partition_new(NULL): MP_ENOENT
        self._e = e
        self._bs = block_size
        self._dev = _vbflash.Region(_open_flash(), e[2], e[3], block_size)

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=4096):
        out = []
        for e in _entries():
            if e[0] == type and (subtype == 0xFF or e[1] == subtype) and (label is None or e[4] == label):
                out.append(Partition(e, block_size))
        return out

    def info(self):
        e = self._e
        return (e[0], e[1], e[2], e[3], e[4], bool(e[5] & 1))

    def get_next_update(self):
        import _vbota
        e = _vbota.next_update(_entries(), self._e[4])
        if e is None:
            # esp_ota_get_next_update_partition() returns NULL: esp32_partition_new(NULL) -> ENOENT
            raise OSError(2)
        return Partition(e, self._bs)

    def set_boot(self):
        import _vbota
        _vbota.set_boot(_open_flash(), _entries(), self._e[4])

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        import _vbota
        _vbota.mark_valid(_open_flash(), _entries())

    def readblocks(self, block_num, buf, offset=0):
        self._dev.readblocks(block_num, buf, offset)

    def writeblocks(self, block_num, buf, offset=None):
        self._dev.writeblocks(block_num, buf, offset)

    def ioctl(self, op, arg):
        return self._dev.ioctl(op, arg)

    def __repr__(self):
        e = self._e
        return "<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=%d>" % (
            e[0], e[1], e[2], e[3], e[4], e[5] & 1)
