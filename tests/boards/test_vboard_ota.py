"""Full-firmware OTA on the virtual board (board "virtual-ota": MicroPython's partitions-4MiB-ota.csv):
esp32.Partition's get_next_update, writeblocks, set_boot and mark_app_valid_cancel_rollback over
the flash file, otadata as ESP-IDF writes it, and the bootloader's rollback rule (an image not
marked valid before the next reset is abandoned). boards/virtual/shims/_vbota.py."""

import binascii
import struct
from pathlib import Path

from boards import espimage
from boards.partitions import PARTITION_TABLE_OFFSET, TABLE_MAX, from_binary

OTADATA = 0xD000


def _flash(a):
    return Path(a.b.info()["flash"]["file"])


def _otadata(a):
    data = _flash(a).read_bytes()[OTADATA:OTADATA + 0x2000]
    out = []
    for i in range(2):
        seq, state, crc = struct.unpack_from("<I20xII", data, i * 4096)
        valid = seq != 0xFFFFFFFF and crc == binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF)
        out.append((seq, state) if valid else None)
    return out


def _write_image(a, version, seed):
    """Write a stand-in image into the next update partition from the board, 4 KB at a time."""
    image = espimage.stand_in(version, size=3 * 4096 + 100, seed=seed)
    a.run("import esp32; nxt = esp32.Partition(esp32.Partition.RUNNING).get_next_update()")
    for i in range(0, len(image), 4096):
        a.run("nxt.ioctl(6, %d)" % (i // 4096))        # erase the block, then program it in pieces
        block = image[i:i + 4096]
        for off in range(0, len(block), 128):
            a.run("nxt.writeblocks(%d, bytes.fromhex('%s'), %d)" % (i // 4096, block[off:off + 128].hex(), off))
    return a.eval("nxt.info()[4]")


def _running(a):
    a.run("import esp32, os")
    return a.eval("esp32.Partition(esp32.Partition.RUNNING).info()[4]"), a.eval("os.uname().release")


def _reboot(a):
    a.b.power_cut()
    a.b.start()
    a.wait_ready()


def test_the_ota_table_and_the_image_flashed_at_provisioning(make_agent):
    a = make_agent(board="virtual-ota")
    data = _flash(a).read_bytes()
    names = [e["name"] for e in from_binary(data[PARTITION_TABLE_OFFSET:PARTITION_TABLE_OFFSET + TABLE_MAX])]
    assert names == ["nvs", "otadata", "phy_init", "ota_0", "ota_1"]
    assert espimage.app_version(data[0x10000:0x11000]) == "1.29.0"
    assert _otadata(a) == [None, None]                 # erased otadata: the bootloader takes ota_0
    assert _running(a) == ("ota_0", "1.29.0")
    assert a.eval("esp32.Partition(esp32.Partition.RUNNING).get_next_update().info()[4]") == "ota_1"
    assert a.eval("os.statvfs('/')[1] * os.statvfs('/')[2]") == 0x400000 - 0x310000    # vfs after ota_1


def test_an_image_marked_valid_stays(make_agent):
    a = make_agent(board="virtual-ota")
    assert _write_image(a, "2.0.0", 1) == "ota_1"
    a.run("nxt.set_boot()")
    assert _otadata(a) == [(2, 0), None]               # seq 2 selects ota_1, state NEW
    assert a.eval("esp32.Partition(esp32.Partition.BOOT).info()[4]") == "ota_1"
    _reboot(a)
    assert _running(a) == ("ota_1", "2.0.0")
    assert _otadata(a) == [(2, 1), None]               # the bootloader: PENDING_VERIFY
    a.run("esp32.Partition.mark_app_valid_cancel_rollback()")
    assert _otadata(a) == [(2, 2), None]               # VALID
    _reboot(a)
    assert _running(a) == ("ota_1", "2.0.0")
    # the next update goes to ota_0, never the running partition
    assert _write_image(a, "3.0.0", 2) == "ota_0"
    a.run("nxt.set_boot()")
    assert _otadata(a) == [(2, 2), (3, 0)]
    _reboot(a)
    assert _running(a) == ("ota_0", "3.0.0")


def test_an_image_not_marked_valid_before_the_next_reset_is_abandoned(make_agent):
    a = make_agent(board="virtual-ota")
    _write_image(a, "2.0.0", 1)
    a.run("nxt.set_boot()")
    _reboot(a)
    assert _running(a) == ("ota_1", "2.0.0")            # its first boot: on trial
    a.b.reset()                                        # reset without mark_app_valid_cancel_rollback
    a.wait_ready()
    assert _otadata(a) == [(2, 4), None]               # ABORTED
    assert _running(a) == ("ota_0", "1.29.0")          # the previous image boots again
    _reboot(a)
    assert _running(a) == ("ota_0", "1.29.0")


def test_set_boot_refuses_a_partition_without_a_valid_image(make_agent):
    a = make_agent(board="virtual-ota")
    a.run("import esp32; nxt = esp32.Partition(esp32.Partition.RUNNING).get_next_update()")
    a.run("nxt.writeblocks(0, bytes(4096))")           # not an app image
    assert "ESP_ERR_OTA_VALIDATE_FAILED" in a.error("nxt.set_boot()")
    assert _otadata(a) == [None, None]


def test_a_board_without_an_ota_table_has_no_next_partition(make_agent):
    a = make_agent()
    a.run("import esp32")
    assert a.eval("esp32.Partition(esp32.Partition.RUNNING).info()[4]") == "factory"
    err = a.error("esp32.Partition(esp32.Partition.RUNNING).get_next_update()")
    assert "ENOENT" in err
