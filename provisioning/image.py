"""What goes onto a board: the MicroPython firmware file (checked against the chip before a byte is
written) and the filesystem image (built here, with littlefs-python, from firmware/, the app
compiled by mpy-cross, board.json and the device's own config.json)."""

from pathlib import Path

from boards import build_fs, compile_app, espimage, load_board, partitions
from boards.catalog import BoardError
from boards.flashimage import littlefs_image

from . import errors

MIN_FILESYSTEM = 256 * 1024
CHIP_TITLES = {"esp32": "ESP32", "esp32c3": "ESP32-C3"}


def chip_key(esptool_chip_name):
    """esptool's CHIP_NAME ("ESP32", "ESP32-C3") as our chip key ("esp32", "esp32c3")."""
    return esptool_chip_name.lower().replace("-", "")


def load_firmware(path):
    p = Path(path)
    if not p.is_file():
        raise errors.ImageInvalid("no firmware file %s" % p,
                                  fix="Give the path of the MicroPython .bin for the board (e.g. ESP32_GENERIC-…-v1.29.0.bin).")
    return p.read_bytes()


def check_firmware(data, chip, flash_size):
    """Facts of a merged MicroPython image for `chip` (our key) on a flash of `flash_size` bytes;
    WrongChip / FlashTooSmall / ImageInvalid when it must not be written."""
    if not data or data[0] != espimage.MAGIC:
        raise errors.ImageInvalid("the firmware file is not an ESP32 image (first byte 0x%02x, expected 0xe9)"
                                  % (data[0] if data else 0))
    try:
        head = espimage.parse_image(data, 0)
    except espimage.ImageError as e:
        raise errors.ImageInvalid("the firmware's bootloader image is damaged: %s" % e)
    want = espimage.CHIP_IDS.get(chip)
    if head["chip_id"] != want:
        raise errors.WrongChip("this firmware is built for %s, but the board's chip is %s"
                               % (head["chip"], CHIP_TITLES.get(chip, chip)))
    try:
        regions = espimage.firmware_regions(data, chip)
    except espimage.ImageError as e:
        raise errors.ImageInvalid("the firmware file is damaged or not a merged MicroPython image: %s" % e)
    if regions["app"]["chip_id"] != want:
        raise errors.WrongChip("the firmware's app is built for %s, not %s" % (regions["app"]["chip"], chip))
    # the image's header names the flash it was built for; the filesystem needs room after the
    # last partition (the vfs partition the image registers at boot)
    built_for = {v: 1 << (20 + i) for i, v in enumerate(sorted(espimage.FLASH_SIZES.values()))}.get(
        head["flash_size_code"], 0)
    table_end = max(e["offset"] + e["size"] for e in regions["partitions"])
    needed = max(built_for, table_end + MIN_FILESYSTEM, espimage.BOOTLOADER_OFFSET[chip] + len(data))
    if needed > flash_size:
        raise errors.FlashTooSmall("the firmware and its partition table need %d MB of flash (the filesystem "
                                   "starts at 0x%x); this module has %d MB" % (-(-needed >> 20), table_end,
                                                                          flash_size >> 20))
    app = regions["app"].get("app") or {}
    return {"offset": espimage.BOOTLOADER_OFFSET[chip], "project": app.get("project_name"),
            "version": app.get("version"), "partitions": regions["partitions"], "size": len(data)}


def vfs_partition(board_name, flash_size):
    board = load_board(board_name)
    entries = partitions.with_vfs(partitions.table(board["partitions"]["table"]), flash_size)
    return [e for e in entries if e["name"] == "vfs"][0]


def device_files(board_name, config, firmware_dir=None, compiled=True):
    """{"/path": bytes} of the board's filesystem (BoardError for bad settings)."""
    files = build_fs(board_name, config, firmware_dir=firmware_dir)
    return compile_app(files) if compiled else files


def filesystem_image(board_name, config, flash_size, firmware_dir=None):
    """(offset, bytes) of the LittleFS image for the board's vfs partition."""
    try:
        files = device_files(board_name, config, firmware_dir)
    except BoardError as e:
        raise errors.ProvisionError(str(e), fix="Correct the settings named above.")
    part = vfs_partition(board_name, flash_size)
    return part["offset"], littlefs_image(files, part["size"])
