"""A board's SPI flash as one file: the layout of MicroPython's ESP32 images, a real LittleFS.

The file is the whole chip (`flash.size_bytes`, erased = 0xFF): the ESP-IDF partition table at
0x8000 (boards/partitions.py, the table the board definition names) and, in the vfs partition
the image registers at boot, a LittleFS2 filesystem with the parameters MicroPython's
vfs.VfsLfs2 uses on an esp32.Partition (extmod/vfs_lfsx.c init_config: 4096-byte blocks,
read/prog size 32, cache 128, lookahead 32, block_cycles 100). The host reads and writes it
with littlefs-python; on a virtual board MicroPython mounts the same bytes
(boards/virtual/shims/_vbflash.py). NOR rules on both sides: erase sets a sector to 0xFF,
programming can only clear bits. <file>.wear counts erases per sector and bytes programmed.

The host may write the filesystem only while no MicroPython has it mounted (the board off or
asleep): two LittleFS instances on one flash would corrupt it.
"""

import struct
from pathlib import Path

import littlefs

from . import partitions

SECTOR = partitions.SECTOR
# extmod/vfs_lfsx.c MP_VFS_LFSx(init_config) with vfs_lfs.c's defaults (readsize=32, progsize=32,
# lookahead=32): cache_size = min(block_size, 4 * max(read, prog)); block_cycles = 100.
LFS_CONFIG = {"block_size": SECTOR, "read_size": 32, "prog_size": 32, "cache_size": 128,
              "lookahead_size": 32, "block_cycles": 100}
WEAR_MAGIC = b"VBWEAR1\0"
WEAR_HEAD = 32                      # magic, u64 bytes programmed, u64 erases, u64 spare


class FlashError(Exception):
    """The flash file is missing, the wrong size, or its filesystem cannot be used."""


class Flash:
    """The flash file, read and written with the chip's rules."""

    def __init__(self, path, size=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FlashError("no flash file %s" % self.path)
        self.size = self.path.stat().st_size
        if size is not None and size != self.size:
            raise FlashError("flash file %s is %d bytes, the board's flash %d" % (self.path, self.size, size))
        self._f = open(self.path, "r+b")
        wear = self.path.with_name(self.path.name + ".wear")
        self._w = open(wear, "r+b") if wear.is_file() else None

    @classmethod
    def create(cls, path, board, blank=False):
        """A chip of the board's size as it leaves the factory of a virtual board: the stand-in
        MicroPython image (bootloader, partition table at 0x8000, app: boards/espimage.py) the
        ROM checks before MicroPython may run. blank=True: erased everywhere, like a new module
        that only its ROM can talk through (download mode) until something is flashed."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        size = board["flash"]["size_bytes"]
        erased = b"\xff" * (1 << 20)
        with open(path, "wb") as f:
            for _ in range(size // len(erased)):
                f.write(erased)
            f.write(b"\xff" * (size % len(erased)))
        with open(path.with_name(path.name + ".wear"), "wb") as f:
            f.write(WEAR_MAGIC + bytes(WEAR_HEAD - len(WEAR_MAGIC)) + bytes(4 * (size // SECTOR)))
        fl = cls(path, size)
        if not blank:
            from . import espimage
            chip = board.get("chip", "esp32")
            image = _factory_image(chip, board["partitions"]["table"])
            fl.write_region(espimage.BOOTLOADER_OFFSET[chip], image)
        return fl

    def close(self):
        for f in (self._f, self._w):
            if f is not None:
                f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the chip's operations -----------------------------------------------------
    def read(self, addr, n):
        self._f.seek(addr)
        return self._f.read(n)

    def erase(self, addr, n):
        if addr % SECTOR or n % SECTOR:
            raise FlashError("erase 0x%x+0x%x is not sector aligned" % (addr, n))
        for a in range(addr, addr + n, SECTOR):
            self._f.seek(a)
            self._f.write(b"\xff" * SECTOR)
            self._count(16, 1)
            self._count(WEAR_HEAD + 4 * (a // SECTOR), 1, "<I")

    def program(self, addr, data):
        old = self.read(addr, len(data))
        self._f.seek(addr)
        self._f.write(bytes(a & b for a, b in zip(old, data)))
        self._count(8, len(data))

    def write_region(self, addr, data):
        """Erase the sectors under data, then program it (what esptool's write_flash does)."""
        start = addr - addr % SECTOR
        end = -(-(addr + len(data)) // SECTOR) * SECTOR
        keep = self.read(start, end - start)
        self.erase(start, end - start)
        buf = bytearray(keep)
        buf[addr - start:addr - start + len(data)] = data
        self.program(start, bytes(buf))
        self._f.flush()

    def _count(self, at, n, fmt="<Q"):
        if self._w is None:
            return
        k = struct.calcsize(fmt)
        self._w.seek(at)
        v = struct.unpack(fmt, self._w.read(k).ljust(k, b"\0"))[0]
        self._w.seek(at)
        self._w.write(struct.pack(fmt, v + n))

    def flush(self):
        self._f.flush()
        if self._w is not None:
            self._w.flush()

    # ---- what the flash holds --------------------------------------------------------
    def partitions(self):
        """The table at 0x8000 plus the vfs partition the image registers at boot."""
        raw = self.read(partitions.PARTITION_TABLE_OFFSET, partitions.TABLE_MAX)
        return partitions.with_vfs(partitions.from_binary(raw), self.size)

    def vfs(self):
        """The LittleFS in the vfs partition (FlashError when there is none)."""
        for e in self.partitions():
            if e["name"] == "vfs" and e["type"] == 0x01:
                return LittleFsVolume(self, e["offset"], e["size"])
        raise FlashError("no vfs partition on %s" % self.path)


_FACTORY = {}


def _factory_image(chip, table):
    from . import espimage
    key = (chip, table)
    if key not in _FACTORY:
        _FACTORY[key] = espimage.fake_micropython_firmware(chip=chip, table=table)
    return _FACTORY[key]


def wear(path):
    """{"erases", "programmed", "max_sector_erases", "sectors_erased"} of a flash file."""
    p = Path(path)
    p = p.with_name(p.name + ".wear")
    data = p.read_bytes() if p.is_file() else b""
    if data[:8] != WEAR_MAGIC:
        return {"erases": 0, "programmed": 0, "max_sector_erases": 0, "sectors_erased": 0}
    programmed, erases = struct.unpack_from("<QQ", data, 8)
    per = struct.unpack_from("<%dI" % ((len(data) - WEAR_HEAD) // 4), data, WEAR_HEAD)
    return {"erases": erases, "programmed": programmed, "max_sector_erases": max(per, default=0),
            "sectors_erased": sum(1 for x in per if x)}


class _Context(littlefs.UserContext):
    """littlefs-python's block device callbacks on a region of the flash file."""

    def __init__(self, flash, offset, size):
        self.flash = flash
        self.offset = offset
        self.in_size = size

    def read(self, cfg, block, off, size):
        return bytearray(self.flash.read(self.offset + block * cfg.block_size + off, size))

    def prog(self, cfg, block, off, data):
        self.flash.program(self.offset + block * cfg.block_size + off, data)
        return 0

    def erase(self, cfg, block):
        self.flash.erase(self.offset + block * cfg.block_size, cfg.block_size)
        return 0

    def sync(self, cfg):
        self.flash.flush()
        return 0


class LittleFsVolume:
    """The board's filesystem, as MicroPython's VfsLfs2 on esp32.Partition sees it."""

    def __init__(self, flash, offset, size):
        self.flash = flash
        self.offset = offset
        self.size = size
        self._ctx = _Context(flash, offset, size)
        self.fs = None

    def _new(self):
        # mount=False: littlefs-python formats whatever it cannot mount, a read must never
        return littlefs.LittleFS(context=self._ctx, block_count=self.size // SECTOR, mount=False,
                                 **LFS_CONFIG)

    def mount(self):
        fs = self._new()
        try:
            fs.mount()
        except littlefs.LittleFSError as e:
            raise FlashError("no LittleFS in the vfs partition of %s (%s)" % (self.flash.path, e))
        self.fs = fs
        return self

    def format(self):
        fs = self._new()
        fs.format()
        fs.mount()
        self.fs = fs
        return self

    def mount_or_format(self):
        try:
            return self.mount()
        except FlashError:
            return self.format()

    def unmount(self):
        if self.fs is not None:
            self.fs.unmount()
            self.fs = None
        self.flash.flush()

    def read(self, path):
        with self.fs.open(path.lstrip("/") or "/", "rb") as f:
            return f.read()

    def exists(self, path):
        try:
            self.fs.stat(path.lstrip("/"))
            return True
        except littlefs.LittleFSError:
            return False

    def files(self):
        """{"/path": bytes} of every file."""
        out = {}
        for root, _dirs, names in self.fs.walk("/"):
            for n in names:
                p = (root.rstrip("/") + "/" + n) if root not in ("", "/") else "/" + n
                p = "/" + p.lstrip("/")
                out[p] = self.read(p)
        return out

    def write(self, path, data):
        """Replace one file (parents made), atomically as LittleFS replaces on close."""
        rel = path.lstrip("/")
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if parent:
            self.fs.makedirs(parent, exist_ok=True)
        with self.fs.open(rel, "wb") as f:
            f.write(bytes(data))

    def clear(self):
        for root, dirs, names in list(self.fs.walk("/"))[::-1]:
            base = root.rstrip("/")
            for n in names:
                self.fs.remove((base + "/" + n).lstrip("/"))
            for d in dirs:
                self.fs.rmdir((base + "/" + d).lstrip("/"))


def open_volume(path, board, create=True):
    """(Flash, mounted LittleFsVolume) of a board's flash file; made (erased, table, formatted)
    when missing and create is true."""
    p = Path(path)
    if not p.is_file():
        if not create:
            raise FlashError("no flash file %s" % p)
        fl = Flash.create(p, board)
    else:
        fl = Flash(p, board["flash"]["size_bytes"])
    try:
        vol = fl.vfs().mount_or_format()
    except Exception:
        fl.close()
        raise
    return fl, vol


def write_files(path, board, files, clean=False):
    """Write {"/path": bytes} into the board's filesystem (made when missing). clean=True
    formats it first, as erasing the filesystem would. Only while no board has it mounted."""
    fl, vol = open_volume(path, board)
    try:
        if clean:
            vol.format()
        for name, data in sorted(files.items()):
            if not isinstance(name, str) or not name.startswith("/") or ".." in name.split("/"):
                raise FlashError("image path %r must be absolute and stay inside the filesystem" % (name,))
            vol.write(name, data.encode() if isinstance(data, str) else data)
        vol.unmount()
    finally:
        fl.close()
    return sorted(files)


def read_file(path, name):
    """One file of the filesystem on a flash file (FlashError if it or the file is missing)."""
    with Flash(path) as fl:
        vol = fl.vfs().mount()
        try:
            return vol.read(name)
        except littlefs.LittleFSError as e:
            raise FlashError("cannot read %s: %s" % (name, e))
        finally:
            vol.fs = None           # read only: nothing to unmount-write


def littlefs_image(files, size, trim=True):
    """A LittleFS2 image of {"/path": bytes} for a vfs partition of `size` bytes, made with
    littlefs-python and MicroPython's parameters (LFS_CONFIG): what `esptool write-flash` puts
    at the partition's offset. trim=True drops the erased blocks at the end (LittleFS never
    reads a block it has not written, so whatever the flash holds there is harmless) and keeps
    the write short."""
    fs = littlefs.LittleFS(block_count=size // SECTOR, **LFS_CONFIG)
    for name, data in sorted(files.items()):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            try:
                fs.mkdir(d)
            except (littlefs.LittleFSError, FileExistsError):
                pass
        with fs.open("/".join(parts), "wb") as f:
            f.write(data.encode() if isinstance(data, str) else bytes(data))
    image = bytes(fs.context.buffer)
    if trim:
        end = len(image)
        while end > 2 * SECTOR and image[end - SECTOR:end] == b"\xff" * SECTOR:
            end -= SECTOR
        image = image[:end]
    return image


def read_files(path):
    with Flash(path) as fl:
        vol = fl.vfs().mount()
        return vol.files()
