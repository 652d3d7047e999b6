"""ESP32 partition tables as MicroPython's images use them, in ESP-IDF's binary format.

A board definition names its table (`partitions.table`); this module knows those tables (the
CSV files of MicroPython v1.29, ports/esp32/), turns them into the binary ESP-IDF writes at
0x8000 (components/partition_table/gen_esp32part.py: 32-byte entries, an MD5 entry, 0xFF up
to 0xC00) and back, and adds the filesystem partition the way the image does at boot:
ports/esp32/main.c boardctrl_startup() registers a "vfs" data partition (subtype fat) from the
end of the last partition to the end of the flash when the table has neither "vfs" nor "ffat"
(since v1.26 the CSVs no longer list it).
"""

import hashlib
import struct

PARTITION_TABLE_OFFSET = 0x8000     # CONFIG_PARTITION_TABLE_OFFSET (ports/esp32/boards/sdkconfig.base)
TABLE_MAX = 0xC00                   # gen_esp32part.py MAX_PARTITION_LENGTH
SECTOR = 0x1000                     # the flash's erase sector, esp32.Partition's block
ENTRY = struct.Struct("<2sBBLL16sL")
MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb" + b"\xff" * 14

TYPES = {"app": 0x00, "data": 0x01}
SUBTYPES = {
    0x00: {"factory": 0x00, "test": 0x20, **{"ota_%d" % i: 0x10 + i for i in range(16)}},
    0x01: {"ota": 0x00, "phy": 0x01, "nvs": 0x02, "coredump": 0x03, "nvs_keys": 0x04, "efuse": 0x05,
           "undefined": 0x06, "esphttpd": 0x80, "fat": 0x81, "spiffs": 0x82, "littlefs": 0x83},
}

# The CSVs of MicroPython v1.29 (ports/esp32/), verbatim but for their comments.
TABLES = {
    # ESP32_GENERIC, ESP32_GENERIC_C3 and most boards (boards/sdkconfig.base)
    "partitions-4MiBplus.csv": """
nvs,      data, nvs,     0x9000,  0x6000,
phy_init, data, phy,     0xf000,  0x1000,
factory,  app,  factory, 0x10000, 0x1F0000,
""",
    # the -OTA variants (boards/ESP32_GENERIC/sdkconfig.ota)
    "partitions-4MiB-ota.csv": """
nvs,      data, nvs,     0x9000,   0x4000,
otadata,  data, ota,     0xd000,   0x2000,
phy_init, data, phy,     0xf000,   0x1000,
ota_0,    app,  ota_0,   0x10000,  0x180000,
ota_1,    app,  ota_1,   0x190000, 0x180000,
""",
    "partitions-2MiB.csv": """
nvs,        data, nvs,     0x9000,   0x6000,
phy_init,   data, phy,     0xf000,   0x1000,
factory,    app,  factory, 0x10000,  0x160000,
""",
}


class PartitionError(ValueError):
    """A partition table that cannot be made or read."""


def _int(text):
    return int(text.strip(), 0)


def parse_csv(text):
    """[{"name", "type", "subtype", "offset", "size", "flags"}] (type/subtype as numbers)."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = [x.strip() for x in line.split(",")]
        f += [""] * (6 - len(f))
        name, typ, sub, off, size, flags = f[:6]
        t = TYPES.get(typ, None) if not typ.startswith("0x") else _int(typ)
        if t is None:
            raise PartitionError("partition %s: unknown type %r" % (name, typ))
        s = SUBTYPES.get(t, {}).get(sub) if not sub.startswith("0x") else _int(sub)
        if s is None:
            raise PartitionError("partition %s: unknown subtype %r" % (name, sub))
        out.append({"name": name, "type": t, "subtype": s, "offset": _int(off), "size": _int(size),
                    "flags": 1 if "encrypted" in flags else 0})
    return out


def table(name):
    """The entries of one of MicroPython's tables, by file name."""
    if name not in TABLES:
        raise PartitionError("unknown partition table %r; known: %s" % (name, ", ".join(sorted(TABLES))))
    return parse_csv(TABLES[name])


def to_binary(entries):
    """The partition table as ESP-IDF writes it at 0x8000 (TABLE_MAX bytes)."""
    body = b""
    for e in entries:
        label = e["name"].encode()
        if len(label) > 16:
            raise PartitionError("partition name %r is longer than 16 bytes" % e["name"])
        body += ENTRY.pack(MAGIC, e["type"], e["subtype"], e["offset"], e["size"], label.ljust(16, b"\0"),
                           e.get("flags", 0))
    body += MD5_MAGIC + hashlib.md5(body).digest()
    if len(body) > TABLE_MAX:
        raise PartitionError("partition table too long (%d bytes)" % len(body))
    return body + b"\xff" * (TABLE_MAX - len(body))


def from_binary(data):
    """Entries of a binary table; checks its MD5 entry (as the bootloader does)."""
    out = []
    for i in range(0, min(len(data), TABLE_MAX), ENTRY.size):
        chunk = data[i:i + ENTRY.size]
        if chunk[:16] == MD5_MAGIC:
            if hashlib.md5(data[:i]).digest() != chunk[16:32]:
                raise PartitionError("partition table MD5 does not match")
            return out
        if chunk[:2] != MAGIC:
            if chunk == b"\xff" * ENTRY.size:
                return out
            raise PartitionError("no partition entry at 0x%x" % (PARTITION_TABLE_OFFSET + i))
        _m, t, s, off, size, label, flags = ENTRY.unpack(chunk)
        out.append({"name": label.rstrip(b"\0").decode(), "type": t, "subtype": s, "offset": off, "size": size,
                    "flags": flags})
    return out


def with_vfs(entries, flash_size):
    """The partitions the image sees after boot: main.c boardctrl_startup() adds "vfs" (data, fat)
    from the end of the last partition to the end of the flash when there is no vfs or ffat."""
    if any(e["type"] == 0x01 and e["name"] in ("vfs", "ffat") for e in entries):
        return list(entries)
    end = max((e["offset"] + e["size"] for e in entries), default=0)
    out = list(entries)
    if end and flash_size > end:
        out.append({"name": "vfs", "type": 0x01, "subtype": 0x81, "offset": end, "size": flash_size - end,
                    "flags": 0, "registered_at_boot": True})
    return out


def check(entries, flash_size):
    """Problems with a table on a flash of flash_size bytes (overlaps, alignment, size)."""
    problems = []
    spans = []
    for e in entries:
        align = 0x10000 if e["type"] == 0x00 else SECTOR
        if e["offset"] % align:
            problems.append("%s: offset 0x%x is not aligned to 0x%x" % (e["name"], e["offset"], align))
        if e["offset"] < PARTITION_TABLE_OFFSET + SECTOR:
            problems.append("%s: offset 0x%x overlaps the bootloader or the partition table" % (e["name"], e["offset"]))
        if e["offset"] + e["size"] > flash_size:
            problems.append("%s: ends at 0x%x, past the end of the %d-byte flash"
                            % (e["name"], e["offset"] + e["size"], flash_size))
        spans.append((e["offset"], e["offset"] + e["size"], e["name"]))
    spans.sort()
    for (a0, a1, an), (b0, _b1, bn) in zip(spans, spans[1:]):
        if b0 < a1:
            problems.append("%s overlaps %s" % (bn, an))
    return problems


def layout(board):
    """The partitions of a board (a loaded definition) after boot, vfs included."""
    name = (board.get("partitions") or {}).get("table")
    return with_vfs(table(name), board["flash"]["size_bytes"])


def find(entries, name):
    for e in entries:
        if e["name"] == name:
            return e
    raise PartitionError("no partition %r in the table" % name)
