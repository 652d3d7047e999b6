"""ESP32 app images as the bootloader sees them: the image header (esp_image_header_t, magic
0xE9), the first segment header, the application description (esp_app_desc_t, magic 0xABCD5432,
with the version string) — ESP-IDF components/bootloader_support/include/esp_app_format.h and
esp_app_desc.h. Used to read the version of an image in a partition (the virtual board's
bootloader, the fleet's release check) and, for tests and demos, to make a stand-in image: the
real layout with filler bytes where a real image has code. A virtual board cannot run an ESP32
image; it keeps it in its flash file and reports its version."""

import random
import struct

IMAGE_MAGIC = 0xE9
DESC_MAGIC = 0xABCD5432
DESC_OFFSET = 24 + 8          # after the image header and the first segment header


def app_version(data):
    """The version in an image's esp_app_desc_t ("v1.29.0" -> "1.29.0"), or None if the bytes are
    not an app image."""
    if len(data) < DESC_OFFSET + 48 or data[0] != IMAGE_MAGIC:
        return None
    magic, = struct.unpack_from("<L", data, DESC_OFFSET)
    if magic != DESC_MAGIC:
        return None
    raw = data[DESC_OFFSET + 16:DESC_OFFSET + 48].split(b"\0", 1)[0]
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return None
    return text[1:] if text.startswith("v") else text


def stand_in(version, size=20000, seed=1, project="micropython"):
    """A stand-in image of `size` bytes that carries `version` where a real one does."""
    head = bytes([IMAGE_MAGIC, 1, 2, 0x20]) + struct.pack("<L", 0x40080000) + bytes(16)
    desc = struct.pack("<LL", DESC_MAGIC, 0) + bytes(8) + ("v" + version).encode().ljust(32, b"\0") \
        + project.encode().ljust(32, b"\0")
    seg = struct.pack("<LL", 0x3F400020, len(desc))
    body = head + seg + desc
    rnd = random.Random(seed)
    return body + bytes(rnd.getrandbits(8) for _ in range(max(0, size - len(body))))
