# Virtual board: OTA app partitions as ESP-IDF keeps them, over the board's flash file. The
# `otadata` partition (two 4 KB sectors) holds two esp_ota_select_entry_t (esp_ota_ops.h):
#   u32 ota_seq | 20 bytes seq_label | u32 ota_state | u32 crc (CRC-32 of ota_seq, initial
#   0xFFFFFFFF: the value IDF's otatool.py computes as binascii.crc32(pack('I', seq), 0xFFFFFFFF))
# The valid entry with the highest seq selects ota_((seq - 1) % number of OTA partitions); both
# erased: factory, else ota_0. What the ESP32 port calls (ports/esp32/esp32_partition.c):
# esp_ota_set_boot_partition (set_boot), esp_ota_get_next_update_partition (get_next_update),
# esp_ota_mark_app_valid_cancel_rollback, esp_ota_get_running/boot_partition (RUNNING, BOOT).
# The bootloader's rollback rule (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y in the port's
# boards/sdkconfig.base), run by the launcher at every reset but a soft one (boot()):
#   NEW -> PENDING_VERIFY, and boot it; still PENDING_VERIFY at the next reset (nobody marked it
#   valid) -> ABORTED, and boot the other entry's partition; ABORTED/INVALID entries are skipped.
# The image check is the part a virtual board can make: magic 0xE9 and an esp_app_desc_t
# (boards/espimage.py); it cannot run the image: the interpreter stays the unix port, and
# os.uname().release reports the running image's version.
import struct
import binascii
from micropython import const

NEW = const(0)
PENDING = const(1)
VALID = const(2)
INVALID = const(3)
ABORTED = const(4)
UNDEFINED = const(0xFFFFFFFF)
_SECTOR = const(4096)
_DESC = const(32)

running = [None]        # the label the bootloader started (None: no OTA table)


def _crc(seq):
    return binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF


class Otadata:
    def __init__(self, flash, table):
        self.flash = flash
        self.apps = sorted([e for e in table if e[0] == 0 and 0x10 <= e[1] < 0x20], key=lambda e: e[1])
        self.factory = [e for e in table if e[0] == 0 and e[1] == 0]
        od = [e for e in table if e[0] == 1 and e[1] == 0]
        self.at = od[0][2] if od else None

    def entries(self):
        """[(seq, state) or None for each of the two sectors]."""
        out = []
        b = bytearray(32)
        for i in range(2):
            self.flash.read(self.at + i * _SECTOR, b)
            seq, state, crc = struct.unpack_from("<I20xII", b)
            out.append((seq, state) if seq != 0xFFFFFFFF and crc == _crc(seq) else None)
        return out

    def write(self, i, seq, state):
        self.flash.erase(self.at + i * _SECTOR, _SECTOR)
        self.flash.program(self.at + i * _SECTOR, struct.pack("<I20sII", seq, b"\xff" * 20, state, _crc(seq)))

    def active(self, skip_pending=False):
        """Index of the entry that selects the boot partition, or None."""
        best = None
        for i, e in enumerate(self.entries()):
            if e is None or e[1] in (INVALID, ABORTED) or (skip_pending and e[1] == PENDING):
                continue
            if best is None or e[0] > self.entries()[best][0]:
                best = i
        return best

    def label_of(self, seq):
        return self.apps[(seq - 1) % len(self.apps)][4]

    def default(self):
        return (self.factory or self.apps)[0][4]

    def boot_label(self):
        i = self.active()
        return self.label_of(self.entries()[i][0]) if i is not None else self.default()

    def state_of(self, label):
        i = self.active()
        if i is None:
            return None
        seq, state = self.entries()[i]
        return state if self.label_of(seq) == label else None


def image_ok(flash, entry):
    b = bytearray(_DESC + 4)
    flash.read(entry[2], b)
    return b[0] == 0xE9 and b[_DESC:_DESC + 4] == b"\x32\x54\xcd\xab"


def image_version(flash, entry):
    b = bytearray(_DESC + 48)
    flash.read(entry[2], b)
    if b[0] != 0xE9 or b[_DESC:_DESC + 4] != b"\x32\x54\xcd\xab":
        return None
    v = bytes(b[_DESC + 16:_DESC + 48])
    v = v[:v.find(b"\0")] if b"\0" in v else v
    v = v.decode()
    return v[1:] if v.startswith("v") else v


def boot(flash, table, soft):
    """The second-stage bootloader's choice at a reset (soft: no bootloader ran, the running
    image stays; its state is left as it is). Returns the label started."""
    od = Otadata(flash, table)
    if od.at is None or not od.apps:
        running[0] = od.default() if (od.factory or od.apps) else None
        return running[0]
    while True:
        i = od.active()
        if i is None:
            running[0] = od.default()
            return running[0]
        seq, state = od.entries()[i]
        label = od.label_of(seq)
        entry = [e for e in od.apps if e[4] == label][0]
        if not soft and state == PENDING:
            od.write(i, seq, ABORTED)       # tried once and never marked valid: abandoned
            continue
        if not image_ok(flash, entry):
            if soft:
                running[0] = label
                return label
            od.write(i, seq, INVALID)
            continue
        if not soft and state == NEW:
            od.write(i, seq, PENDING)
        running[0] = label
        return label


def set_boot(flash, table, label):
    """esp_ota_set_boot_partition for an OTA app partition: the image is checked, then the other
    otadata sector gets the seq that selects it, state NEW (rollback enabled)."""
    od = Otadata(flash, table)
    entry = [e for e in od.apps if e[4] == label]
    if not entry or od.at is None:
        raise OSError(-258, "ESP_ERR_INVALID_ARG")
    if not image_ok(flash, entry[0]):
        raise OSError(-5379, "ESP_ERR_OTA_VALIDATE_FAILED")
    idx = od.apps.index(entry[0])
    n = len(od.apps)
    i = od.active()
    if i is None:
        od.write(0, idx + 1, NEW)
        return
    # esp_ota_ops.c esp_rewrite_ota_data(): the smallest seq above the active one that selects idx
    seq = od.entries()[i][0]
    k = 0
    while seq > (idx + 1) % n + k * n:
        k += 1
    od.write(1 - i, (idx + 1) % n + k * n, NEW)


def next_update(table, label):
    """esp_ota_get_next_update_partition: the OTA app partition after `label` (from the factory
    app: ota_0); never the running one."""
    apps = sorted([e for e in table if e[0] == 0 and 0x10 <= e[1] < 0x20], key=lambda e: e[1])
    if not apps:
        return None
    labels = [e[4] for e in apps]
    if label not in labels:
        return apps[0]
    return apps[(labels.index(label) + 1) % len(apps)]


def mark_valid(flash, table):
    """esp_ota_mark_app_valid_cancel_rollback: the running image's entry PENDING_VERIFY -> VALID."""
    od = Otadata(flash, table)
    if od.at is None:
        return
    i = od.active()
    if i is None:
        return
    seq, state = od.entries()[i]
    if state == PENDING and od.label_of(seq) == running[0]:
        od.write(i, seq, VALID)
