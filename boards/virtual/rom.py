"""What a virtual board's chip does at reset before MicroPython runs: the first-stage ROM and the
second-stage bootloader, judged on the bytes of the board's flash file.

Real ESP32 behaviour modelled here:
- the ROM samples the strapping pin IO0 when EN goes high: low means download mode, where it
  prints `boot:0x3 (DOWNLOAD_BOOT...)` and `waiting for download` and answers the serial
  protocol (romloader.py); high means SPI boot;
- SPI boot reads the second-stage bootloader at 0x1000 (C3: 0x0): erased flash gives
  `flash read err, 1000` and `ets_main.c 371`, a wrong first byte `invalid header: 0x...`, and
  the RTC watchdog resets the chip again and again (`rst:0x10 (RTCWDT_RTC_RESET)`);
- the bootloader checks the partition table at 0x8000 (magic, MD5) and the factory app's image
  (esp_image_verify: magic, chip id, checksum, SHA-256), else it prints its error and resets.
Only an app whose description names the project "micropython" can run on a virtual board (its
interpreter is the unix port); another valid app is reported as such and nothing runs.
"""

from .. import espimage, partitions

CHIP_ID = {"esp32": 0, "esp32c3": 5}

DOWNLOAD_BANNER = {
    "esp32": "rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n"
             "waiting for download\r\n",
    "esp32c3": "rst:0x1 (POWERON),boot:0x5 (DOWNLOAD(USB/UART0/1))\r\nwaiting for download\r\n",
}
LOOP_RESET = {"esp32": "rst:0x10 (RTCWDT_RTC_RESET)", "esp32c3": "rst:0x10 (LP_WDT_SYS)"}


class BootResult:
    """ok: MicroPython may start; else `text` is what the chip prints before its watchdog resets it."""

    def __init__(self, ok, text="", app=None, why=""):
        self.ok = ok
        self.text = text
        self.app = app
        self.why = why


def check_boot(flash, chip):
    """Follow the ESP32 boot chain on a boards.flashimage.Flash."""
    base = espimage.BOOTLOADER_OFFSET[chip]
    head = flash.read(base, 4)
    if head == b"\xff\xff\xff\xff":
        # ROM: the first word read back erased (ESP32 ROM ets_main.c)
        return BootResult(False, "flash read err, %x\r\nets_main.c 371 \r\n" % base,
                          why="no bootloader at 0x%x (erased flash)" % base)
    try:
        boot = espimage.parse_image(flash.read(base, 0x7000), 0)
    except espimage.ImageError:
        word = int.from_bytes(head, "little")
        return BootResult(False, "invalid header: 0x%08x\r\n" % word,
                          why="no valid bootloader image at 0x%x" % base)
    if boot["chip_id"] != CHIP_ID[chip]:
        return BootResult(False, "invalid header: 0x%08x\r\n" % int.from_bytes(head, "little"),
                          why="the bootloader at 0x%x is for %s" % (base, boot["chip"]))
    lines = ["I (31) boot: ESP-IDF v5.5.1 2nd stage bootloader"]
    try:
        table = partitions.from_binary(flash.read(partitions.PARTITION_TABLE_OFFSET, partitions.TABLE_MAX))
        if not table:
            raise partitions.PartitionError("no entries")
    except partitions.PartitionError:
        lines += ["E (58) boot: Failed to verify partition table", "E (63) boot: load partition table error!"]
        return BootResult(False, "\r\n".join(lines) + "\r\n", why="no valid partition table at 0x8000")
    problems = [p for p in partitions.check(table, flash.size) if "past the end" in p]
    if problems:
        lines += ["E (57) flash_parts: partition %s" % problems[0], "E (62) boot: Failed to verify partition table",
                  "E (67) boot: load partition table error!"]
        return BootResult(False, "\r\n".join(lines) + "\r\n", why="partition table larger than the flash")
    app_part = next((e for e in table if e["type"] == 0x00), None)
    if app_part is None:
        lines.append("E (80) boot: No bootable app partitions in the partition table")
        return BootResult(False, "\r\n".join(lines) + "\r\n", why="no app partition")
    off = app_part["offset"]
    try:
        app = espimage.parse_image(flash.read(off, min(app_part["size"], 0x400000)), 0)
        if app["chip_id"] != CHIP_ID[chip]:
            raise espimage.ImageError("image is for %s" % app["chip"])
    except espimage.ImageError as e:
        lines += ["E (95) esp_image: image at 0x%x is not valid: %s" % (off, e),
                  "E (101) boot: Factory app partition is not bootable",
                  "E (106) boot: No bootable app partitions in the partition table"]
        return BootResult(False, "\r\n".join(lines) + "\r\n", why="no valid app image at 0x%x: %s" % (off, e))
    desc = app.get("app") or {}
    lines.append("I (150) boot: Loaded app from partition at offset 0x%x" % off)
    if desc.get("project_name") != "micropython":
        return BootResult(False, "\r\n".join(lines) + "\r\n", app=desc,
                          why="app %r is not MicroPython: a virtual board runs only MicroPython images"
                          % desc.get("project_name"))
    return BootResult(True, "", app=desc)
