"""ESP32 firmware images: read the headers a chip's ROM and bootloader check, and make a stand-in
MicroPython image for tests.

The format is ESP-IDF's app image (docs: "App Image Format"; esptool/bin_image.py
ESP32FirmwareImage): an 8-byte header (magic 0xE9, segment count, SPI mode, size/frequency,
entry point), a 16-byte extended header (WP pin, drive strengths, **chip id**, minimum
revision, "hash appended"), segments (load address, length, data), a checksum byte (0xEF XOR
every data byte) at the end of a 16-byte padded block and, when the header says so, the SHA-256
of everything before it. The first segment of an application starts with esp_app_desc_t
(magic 0xABCD5432, version, project name, ...); a MicroPython image says "micropython" there.

MicroPython's ESP32_GENERIC-*.bin is a merged image written at 0x1000 (C3: at 0x0): the
second-stage bootloader, the partition table at 0x8000 and the app at 0x10000 in one file.
`fake_micropython_firmware()` makes a file of that shape with real headers but no machine code:
the test artifact for flashing a virtual board (no firmware can be downloaded here), named as
the stand-in it is wherever it is used.
"""

import hashlib
import random
import struct

from . import partitions

MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
APP_DESC_MAGIC = 0xABCD5432
BOOTLOADER_DESC_MAGIC = 0x50
HEADER = struct.Struct("<BBBBI")                 # magic, segments, flash_mode, size_freq, entry
EXT_HEADER = struct.Struct("<BBBBHBHH4sB")       # wp_pin, drv x3, chip_id, min_rev, min/max_full, rsv, hash
SEGMENT = struct.Struct("<II")
APP_DESC = struct.Struct("<II8s32s32s16s16s32s32sHHB3s72s")

# esptool targets: IMAGE_CHIP_ID (esp32.py 0, esp32c3.py 5), where the image goes
CHIP_IDS = {"esp32": 0, "esp32c3": 5}
CHIP_NAMES = {0: "ESP32", 5: "ESP32-C3", 2: "ESP32-S2", 9: "ESP32-S3", 12: "ESP32-C2", 13: "ESP32-C6"}
BOOTLOADER_OFFSET = {"esp32": 0x1000, "esp32c3": 0x0}
APP_OFFSET = 0x10000
FLASH_MODES = {"qio": 0, "qout": 1, "dio": 2, "dout": 3}
FLASH_SIZES = {"1MB": 0x00, "2MB": 0x10, "4MB": 0x20, "8MB": 0x30, "16MB": 0x40}
FLASH_FREQS = {"40m": 0x0, "26m": 0x1, "20m": 0x2, "80m": 0xF}


class ImageError(ValueError):
    """Bytes that are not a usable ESP32 image."""


def _checksum(data, state=CHECKSUM_SEED):
    """state XOR every byte of data (folded as one big integer: fast on megabytes)."""
    width = len(data) * 8
    if not width:
        return state
    x = int.from_bytes(data, "little")
    while width > 8:
        half = ((width // 8 + 1) // 2) * 8
        x = (x & ((1 << half) - 1)) ^ (x >> half)
        width = half
    return state ^ x


def build_image(chip, segments, entry, flash_mode="dio", flash_size="4MB", flash_freq="40m", digest=True):
    """An ESP32 image: `segments` is [(load_address, data)], data padded to 4 bytes here."""
    head = HEADER.pack(MAGIC, len(segments), FLASH_MODES[flash_mode],
                       FLASH_SIZES[flash_size] | FLASH_FREQS[flash_freq], entry)
    head += EXT_HEADER.pack(0xEE, 0, 0, 0, CHIP_IDS[chip], 0, 0, 0xFFFF, b"\0" * 4, 1 if digest else 0)
    out = bytearray(head)
    state = CHECKSUM_SEED
    for addr, data in segments:
        data = bytes(data) + b"\0" * (-len(data) % 4)
        out += SEGMENT.pack(addr, len(data)) + data
        state = _checksum(data, state)
    out += b"\0" * (15 - len(out) % 16)
    out.append(state)
    if digest:
        out += hashlib.sha256(out).digest()
    return bytes(out)


def parse_image(data, offset=0):
    """Header facts of the image at `offset` in `data`; ImageError when it is not one.
    Checks what the bootloader's esp_image_verify() checks: magic, segment bounds, checksum
    and, when appended, the SHA-256."""
    if len(data) < offset + HEADER.size + EXT_HEADER.size:
        raise ImageError("too short for an image header")
    magic, nseg, mode, size_freq, entry = HEADER.unpack_from(data, offset)
    if magic != MAGIC:
        raise ImageError("invalid magic byte 0x%02x (expected 0xe9)" % magic)
    if not 0 < nseg <= 16:
        raise ImageError("invalid segment count %d" % nseg)
    ext = EXT_HEADER.unpack_from(data, offset + HEADER.size)
    chip_id, hash_appended = ext[4], ext[9]
    pos = offset + HEADER.size + EXT_HEADER.size
    segs = []
    state = CHECKSUM_SEED
    for _ in range(nseg):
        if pos + SEGMENT.size > len(data):
            raise ImageError("segment header past the end of the data")
        addr, length = SEGMENT.unpack_from(data, pos)
        pos += SEGMENT.size
        if length > 16 << 20 or pos + length > len(data):
            raise ImageError("segment at 0x%08x (%d bytes) runs past the end of the data" % (addr, length))
        seg = data[pos:pos + length]
        state = _checksum(seg, state)
        segs.append((addr, pos, length))
        pos += length
    pos += 15 - (pos - offset) % 16
    if pos >= len(data):
        raise ImageError("no checksum byte")
    if data[pos] != state:
        raise ImageError("checksum mismatch (calculated 0x%02x, read 0x%02x)" % (state, data[pos]))
    pos += 1
    if hash_appended:
        if pos + 32 > len(data):
            raise ImageError("SHA-256 digest missing")
        if hashlib.sha256(data[offset:pos]).digest() != bytes(data[pos:pos + 32]):
            raise ImageError("SHA-256 digest mismatch")
        pos += 32
    desc = None
    if segs:
        first = data[segs[0][1]:segs[0][1] + min(segs[0][2], APP_DESC.size)]
        if len(first) == APP_DESC.size and struct.unpack_from("<I", first)[0] == APP_DESC_MAGIC:
            f = APP_DESC.unpack(first)
            desc = {"version": _cstr(f[3]), "project_name": _cstr(f[4]), "idf_ver": _cstr(f[7])}
    return {"chip_id": chip_id, "chip": CHIP_NAMES.get(chip_id, "chip id %d" % chip_id),
            "flash_mode": mode, "flash_size_code": size_freq & 0xF0, "entry": entry, "segments": len(segs),
            "length": pos - offset, "app": desc}


def _cstr(b):
    return bytes(b).split(b"\0", 1)[0].decode("ascii", "replace")


def chip_of(chip_id):
    """Our chip name ("esp32") for an image chip id, or None."""
    for name, cid in CHIP_IDS.items():
        if cid == chip_id:
            return name
    return None


def _app_desc(project, version, idf="v5.5.1"):
    return APP_DESC.pack(APP_DESC_MAGIC, 0, b"", version.encode(), project.encode(), b"00:00:00",
                         b"Dec  6 2026", idf.encode(), b"\0" * 32, 0, 0xFFFF, 16, b"", b"")


def fake_micropython_firmware(chip="esp32", version="v1.29.0", table="partitions-4MiBplus.csv",
                              app_size=96 * 1024, seed=1, project="micropython"):
    """A stand-in for MicroPython's ESP32_GENERIC-*.bin (merged: bootloader, partition table,
    app), written at BOOTLOADER_OFFSET[chip]. Real headers, checksums, SHA-256 and app
    description; the segments hold filler, not code. `app_size` sets the app's size (a real
    ESP32_GENERIC app is ~1.6 MB and deflates to ~60 %: the filler is half random, half zeros)."""
    rnd = random.Random(seed)
    boot_desc = struct.pack("<B3sI32s24s16s", BOOTLOADER_DESC_MAGIC, b"", 1, b"v5.5.1", b"Dec  6 2026", b"")
    bootloader = build_image(chip, [(0x3FFF0000, boot_desc + bytes(rnd.getrandbits(8) for _ in range(4096))),
                                    (0x40078000, bytes(8192))], entry=0x40080400)
    filler = bytearray()
    while len(filler) < app_size:
        filler += bytes(rnd.getrandbits(8) for _ in range(512)) + bytes(512)
    app = build_image(chip, [(0x3F400020, _app_desc(project, version) + bytes(filler[:app_size])),
                             (0x40080000, bytes(1024))], entry=0x40081000)
    base = BOOTLOADER_OFFSET[chip]
    table_bin = partitions.to_binary(partitions.table(table))
    out = bytearray(b"\xff" * (APP_OFFSET - base))
    out[0:len(bootloader)] = bootloader
    at = partitions.PARTITION_TABLE_OFFSET - base
    out[at:at + len(table_bin)] = table_bin
    return bytes(out) + app


def firmware_regions(data, chip):
    """A merged firmware file cut at the places the chip reads: {"bootloader", "partition_table",
    "app"} as (flash address, bytes) pairs (ImageError when a part is missing or broken)."""
    base = BOOTLOADER_OFFSET[chip]
    boot = parse_image(data, 0)
    table_at = partitions.PARTITION_TABLE_OFFSET - base
    try:
        entries = partitions.from_binary(data[table_at:table_at + partitions.TABLE_MAX])
    except partitions.PartitionError as e:
        raise ImageError("no partition table at 0x%x: %s" % (partitions.PARTITION_TABLE_OFFSET, e))
    app = parse_image(data, APP_OFFSET - base)
    return {"bootloader": boot, "partitions": entries, "app": app}


# ---- OTA: the version of an image in a partition, and stand-in app images --------------------

APP_DESC_AT = HEADER.size + EXT_HEADER.size + SEGMENT.size      # esp_app_desc_t in the first segment


def app_version(data):
    """The version in an app image's esp_app_desc_t ("v1.29.0" -> "1.29.0") read from its first
    bytes (a partition's first block is enough), or None when they are not an app image. What the
    board reads of a partition (firmware/app/otafw.py) and the virtual bootloader too."""
    if len(data) < APP_DESC_AT + 48 or data[0] != MAGIC:
        return None
    if struct.unpack_from("<I", data, APP_DESC_AT)[0] != APP_DESC_MAGIC:
        return None
    text = _cstr(data[APP_DESC_AT + 16:APP_DESC_AT + 48])
    return text[1:] if text.startswith("v") else text


def stand_in(version, size=20000, seed=1, chip="esp32", project="micropython"):
    """A stand-in app image of about `size` bytes for an OTA partition: real headers, checksum,
    SHA-256 and app description carrying `version`; filler instead of code (the test and demo
    artifact of a firmware release, named as the stand-in it is)."""
    rnd = random.Random(seed)
    desc = _app_desc(project, "v" + version)
    filler = bytes(rnd.getrandbits(8) for _ in range(max(0, size - len(desc) - 96)))
    return build_image(chip, [(0x3F400020, desc + filler)], entry=0x40081000)
