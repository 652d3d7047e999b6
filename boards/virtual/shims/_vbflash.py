# Virtual board: the SPI flash chip, one host file of the flash's size (boards/flashimage.py
# makes it: the partition table at 0x8000, a LittleFS image in the vfs partition). NOR rules
# as on the chip: an erase sets a 4 KB sector to 0xFF, a program can only clear bits (the
# result is old AND new). Each operation is its own write() system call, so a power cut (the
# host's SIGKILL) falls between operations, or inside a sector erase or a long program, never
# inside one 512-byte write. Erases per sector and bytes programmed are counted in
# <file>.wear (the host reads them: flash wear). Also used by the firmware unit tests
# (tests/firmware/mp/mptest.py) to run on LittleFS with power cuts between operations.
import struct
from micropython import const

SECTOR = const(4096)
_CHUNK = const(512)
_WEAR_HEAD = const(32)      # b"VBWEAR1\0", u64 bytes programmed, u64 erases, u64 spare
_FF = b"\xff" * _CHUNK


class PowerCut(BaseException):
    """Raised by the unit-test flash at the operation a test cut the power before."""


class Flash:
    def __init__(self, path, size=None):
        self.f = open(path, "r+b")
        if size is None:
            size = self.f.seek(0, 2)
        self.size = size
        try:
            self.w = open(path + ".wear", "r+b")
        except OSError:
            self.w = None
        self._n = bytearray(8)
        self._s = bytearray(_CHUNK)
        self._smv = memoryview(self._s)
        self.cut_after = 0          # > 0: the power goes just before that many more operations
        self.on_cut = None          # called then (the board: tell the host, wait to be killed)
        self.dead = False           # unit tests: after a cut nothing reaches the flash any more

    def _op(self):
        if self.dead:
            raise PowerCut()
        if self.cut_after:
            self.cut_after -= 1
            if not self.cut_after:
                self.dead = True
                if self.on_cut is not None:
                    self.on_cut()
                raise PowerCut()

    def _count(self, at, n):
        w = self.w
        if w is None:
            return
        w.seek(at)
        w.readinto(self._n)
        struct.pack_into("<Q", self._n, 0, struct.unpack_from("<Q", self._n)[0] + n)
        w.seek(at)
        w.write(self._n)

    def read(self, addr, buf):
        f = self.f
        f.seek(addr)
        n = f.readinto(buf)
        if n is not None and n < len(buf):          # past the file's end reads erased
            mv = memoryview(buf)
            for i in range(n, len(buf)):
                mv[i] = 0xFF

    def erase(self, addr, n):
        """Erase whole sectors (addr, n multiples of SECTOR)."""
        f = self.f
        for a in range(addr, addr + n, SECTOR):
            self._op()
            f.seek(a)
            for _ in range(SECTOR // _CHUNK):
                f.write(_FF)
            self._count(16, 1)
            if self.w is not None:
                self.w.seek(_WEAR_HEAD + (a // SECTOR) * 4)
                self.w.readinto(self._n, 4)
                struct.pack_into("<I", self._n, 0, struct.unpack_from("<I", self._n)[0] + 1)
                self.w.seek(_WEAR_HEAD + (a // SECTOR) * 4)
                self.w.write(memoryview(self._n)[:4])

    def program(self, addr, data):
        """Program data at addr: bits can only go from 1 to 0, as on NOR flash."""
        self._op()
        f = self.f
        src = memoryview(data)
        n = len(src)
        s = self._s
        off = 0
        while off < n:
            k = n - off if n - off < _CHUNK else _CHUNK
            f.seek(addr + off)
            f.readinto(self._smv[:k])
            for i in range(k):
                s[i] &= src[off + i]
            f.seek(addr + off)
            f.write(self._smv[:k])
            off += k
        self._count(8, n)


class Region:
    """A block device over part of the flash: readblocks/writeblocks/ioctl as esp32.Partition
    (ports/esp32/esp32_partition.c): writeblocks without an offset erases first, with an
    offset it only programs; ioctl 6 erases one block."""

    def __init__(self, flash, offset, size, block_size=SECTOR):
        self.flash = flash
        self.offset = offset
        self.size = size
        self.bs = block_size

    def _check(self, off, n):
        # esp_partition_read/write/erase_range: ESP_ERR_INVALID_ARG past the start,
        # ESP_ERR_INVALID_SIZE past the end (mphalport.c check_esp_err_ negates the code)
        if off < 0 or off > self.size:
            raise OSError(-258, "ESP_ERR_INVALID_ARG")
        if off + n > self.size:
            raise OSError(-260, "ESP_ERR_INVALID_SIZE")

    def readblocks(self, block, buf, offset=0):
        off = block * self.bs + offset
        self._check(off, len(buf))
        self.flash.read(self.offset + off, buf)

    def writeblocks(self, block, buf, offset=None):
        off = block * self.bs
        n = len(buf)
        if offset is None:
            self._check(off, n)
            if off % SECTOR or n % SECTOR:
                raise OSError(-258, "ESP_ERR_INVALID_ARG")   # (block_size < 4096 is not simulated)
            self.flash.erase(self.offset + off, n)
        else:
            off += offset
            self._check(off, n)
        self.flash.program(self.offset + off, buf)

    def ioctl(self, op, arg):
        if op in (1, 2, 3):          # INIT, DEINIT, SYNC
            return 0
        if op == 4:                  # BLOCK_COUNT
            return self.size // self.bs
        if op == 5:                  # BLOCK_SIZE
            return self.bs
        if op == 6:                  # BLOCK_ERASE
            if self.bs != SECTOR:
                return -22
            self._check(arg * SECTOR, SECTOR)
            self.flash.erase(self.offset + arg * SECTOR, SECTOR)
            return 0
        return None


def read_table(flash, at=0x8000):
    """[(type, subtype, offset, size, label, flags)] of the ESP-IDF partition table at `at`.
    None when there is none or its MD5 does not match (the bootloader then refuses to boot)."""
    import hashlib
    buf = bytearray(0xC00)
    flash.read(at, buf)
    out = []
    for i in range(0, 0xC00, 32):
        e = buf[i:i + 32]
        if e[0] == 0xEB and e[1] == 0xEB:
            if hashlib.md5(buf[:i]).digest() != bytes(e[16:32]):
                return None
            return out
        if e[0] != 0xAA or e[1] != 0x50:
            return None
        _m, t, s, off, size, label, flags = struct.unpack("<2sBBII16sI", e)
        n = 0
        while n < 16 and label[n]:
            n += 1
        out.append((t, s, off, size, label[:n].decode(), flags))
    return None


def with_vfs(table, flash_size):
    """ports/esp32/main.c boardctrl_startup(): no "vfs"/"ffat" data partition -> one named vfs
    (data, fat) from the end of the last partition to the end of the flash."""
    end = 0
    for e in table:
        if e[0] == 1 and e[4] in ("vfs", "ffat"):
            return table
        if e[2] + e[3] > end:
            end = e[2] + e[3]
    if end and flash_size > end:
        table = table + [(1, 0x81, end, flash_size - end, "vfs", 0)]
    return table
