"""The virtual board's flash is a chip image: MicroPython's partition table at 0x8000, a real
LittleFS2 in the vfs partition that the board's MicroPython mounts (as the ESP32 image's frozen
_boot.py does) and the host reads with littlefs-python, NOR erase/program rules, power cuts
between flash operations."""

import json
from pathlib import Path

import littlefs
import pytest

from boards import load_board
from boards.flashimage import LFS_CONFIG, Flash, read_files, wear
from boards.partitions import PARTITION_TABLE_OFFSET, TABLE_MAX, from_binary, table, to_binary, with_vfs


def _flash_file(a):
    return Path(a.b.info()["flash"]["file"])


def test_partition_table_and_littlefs_as_on_the_chip(make_agent):
    a = make_agent()
    path = _flash_file(a)
    data = path.read_bytes()
    assert len(data) == 4 * 1024 * 1024
    entries = from_binary(data[PARTITION_TABLE_OFFSET:PARTITION_TABLE_OFFSET + TABLE_MAX])    # MD5 checked
    assert [(e["name"], e["offset"], e["size"]) for e in entries] == [
        ("nvs", 0x9000, 0x6000), ("phy_init", 0xF000, 0x1000), ("factory", 0x10000, 0x1F0000)]
    assert data[PARTITION_TABLE_OFFSET:PARTITION_TABLE_OFFSET + TABLE_MAX] == to_binary(table("partitions-4MiBplus.csv"))
    # the board sees the same table, plus the vfs partition main.c registers at boot
    a.run("import esp32, os")
    assert a.eval("[p.info() for p in esp32.Partition.find(esp32.Partition.TYPE_DATA)]") == [
        (1, 2, 0x9000, 0x6000, "nvs", False), (1, 1, 0xF000, 0x1000, "phy_init", False),
        (1, 0x81, 0x200000, 0x200000, "vfs", False)]
    assert a.eval("esp32.Partition(esp32.Partition.RUNNING).info()[4]") == "factory"
    assert a.eval("os.statvfs('/')[:3]") == (4096, 4096, 512)       # 2 MiB of 4 KB blocks
    # what the board writes, the host reads from the image with littlefs-python, and back
    a.run("f = open('/from_board.txt', 'w'); f.write('written by MicroPython'); f.close()")
    vfs = data[0x200000:]
    ctx = littlefs.UserContext(buffer=bytearray(Path(path).read_bytes()[0x200000:]))
    fs = littlefs.LittleFS(context=ctx, block_count=512, **LFS_CONFIG)
    assert fs.open("from_board.txt", "r").read() == "written by MicroPython"
    assert json.loads(fs.open("board.json", "r").read())["name"] == "virtual"
    assert vfs[:4096] != b"\xff" * 4096                              # a superblock, not an empty sector
    a.b.power_cut()
    a.b.deploy({"/from_host.txt": b"written by littlefs-python"})
    a.b.start()
    a.wait_ready()
    assert a.eval("open('/from_host.txt').read()") == "written by littlefs-python"


def test_nor_rules_and_bounds_of_partition_block_writes(make_agent):
    a = make_agent()
    a.run("import esp32; p = esp32.Partition('phy_init'); b = bytearray(16)")
    a.run("p.writeblocks(0, bytes(4096))")                 # no offset: erase, then program
    a.run("p.ioctl(6, 0)")                                 # erase the block: 0xFF
    a.run("p.writeblocks(0, b'\\x0f' * 16, 0); p.writeblocks(0, b'\\xf0' * 16, 0)")
    a.run("p.readblocks(0, b)")
    assert a.eval("bytes(b)") == b"\x00" * 16             # programming only clears bits
    assert "ESP_ERR_INVALID_SIZE" in a.error("p.readblocks(1, b)")
    assert "ESP_ERR_INVALID_SIZE" in a.error("p.writeblocks(0, bytes(8192))")
    assert a.eval("p.ioctl(4, 0), p.ioctl(5, 0)") == (1, 4096)
    w = wear(_flash_file(a))
    assert w["erases"] >= 2 and w["programmed"] >= 4096 + 32


def test_erased_vfs_is_formatted_and_garbage_reads_as_corrupted(make_agent):
    a = make_agent(start=False)
    path = _flash_file(a)
    board = load_board("virtual")
    vfs = [e for e in with_vfs(table("partitions-4MiBplus.csv"), 4 << 20) if e["name"] == "vfs"][0]
    with Flash(path, board["flash"]["size_bytes"]) as fl:
        fl.erase(vfs["offset"], vfs["size"])               # esptool erase_region
    a.b.start()
    a.b.expect("Performing initial setup", timeout=10)     # inisetup.py, as on first boot
    a.b.expect(">>> ", timeout=10)                          # no main.py any more: the REPL
    a.b.power_cut()
    assert b"This file is executed on every boot" in read_files(path)["/boot.py"]
    with Flash(path, board["flash"]["size_bytes"]) as fl:     # both superblock copies gone
        fl.erase(vfs["offset"], 8192)
        fl.program(vfs["offset"], b"not a filesystem" * 16)
        fl.program(vfs["offset"] + 4096, b"not a filesystem" * 16)
    a.b.start()
    a.b.expect("The filesystem appears to be corrupted", timeout=10)


def test_no_partition_table_no_micropython(make_agent):
    a = make_agent(start=False)
    with Flash(_flash_file(a)) as fl:
        fl.erase(PARTITION_TABLE_OFFSET, 4096)
    a.b.start()
    a.b.expect("load partition table error", timeout=10)
    a.b.wait_for(lambda b: "partition table" in (b.info()["error"] or ""), 5, what="the error in info()")


@pytest.mark.parametrize("ops", [1, 2, 3, 5, 8, 13])
def test_power_cut_between_flash_operations_leaves_whole_files(make_agent, ops):
    # the board rewrites two files in a loop; the power goes just before its n-th flash
    # operation: afterwards LittleFS mounts and every file is complete, old or new
    a = make_agent()
    a.run("import os; n = [0]")
    a.run("exec('def w():\\n for p in (\"/a.txt\", \"/b.txt\"):\\n  f = open(p, \"w\")\\n"
          "  f.write(str(n[0]) * 300)\\n  f.close()\\n n[0] += 1')")
    a.run("w(); w()")
    a.b.power_cut(after_flash_ops=ops)
    a.b.write("while True: w()\n")
    a.b.wait_state("off", 10)
    files = read_files(_flash_file(a))
    for p in ("/a.txt", "/b.txt"):
        text = files[p].decode()
        assert len(text) == 300 and text == text[0] * 300, (p, text[:20])
    assert a.b.boots()[-1]["reset_cause"] == "PWRON_RESET" and len(a.b.boots()) == 1
    a.b.start()
    a.wait_ready()
    assert a.eval("len(open('/a.txt').read())") == 300
