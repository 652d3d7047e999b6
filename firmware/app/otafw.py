# Full-firmware OTA through esp32.Partition (docs/ota.md "Firmware images"): the image goes into
# the next OTA partition (get_next_update), is activated with set_boot() and, after the health
# gate on its first boot, marked valid (mark_app_valid_cancel_rollback). Until then the
# bootloader's rollback rule holds: an image not marked valid before the next reset is abandoned
# and the previous one boots. Needs an image with the OTA partition table (ESP32_GENERIC-OTA).
# Loaded only while a firmware update runs or is on trial.
from micropython import const

_BLOCK = const(4096)
_SYNC_BLOCKS = const(16)    # progress persisted every 64 KB: a power cut re-downloads at most that
_APP_DESC = const(32)       # esp_app_desc_t after the image header (24) and first segment header (8)


def _esp32():
    import esp32
    return esp32


def running():
    """The running app partition."""
    e = _esp32()
    return e.Partition(e.Partition.RUNNING)


def target():
    """The partition the next image goes to (never the running one)."""
    return running().get_next_update()


def label(part):
    return part.info()[4]


def version(part):
    """The version string in an image's esp_app_desc_t (magic 0xABCD5432), or None."""
    b = bytearray(_BLOCK)
    part.readblocks(0, b)
    if b[0] != 0xE9 or b[_APP_DESC:_APP_DESC + 4] != b"\x32\x54\xcd\xab":
        return None
    v = bytes(b[_APP_DESC + 16:_APP_DESC + 48])
    v = v[:v.find(b"\0")] if b"\0" in v else v
    v = v.decode()
    return v[1:] if v.startswith("v") else v


class PartSink:
    """The image downloading into a partition, block by block; how much is written is kept in
    the OTA state file (st["got"]) every _SYNC_BLOCKS blocks."""

    def __init__(self, part, st, save, total):
        self.total = total
        self.part = part
        self.st = st
        self.save = save
        self.blk = bytearray(_BLOCK)
        self.fill = 0

    def size(self):
        return self.st.get("got", 0)

    def rehash(self, h, buf):
        got = self.st.get("got", 0)
        b = self.blk
        for i in range((got + _BLOCK - 1) // _BLOCK):
            self.part.readblocks(i, b)
            h.update(b if (i + 1) * _BLOCK <= got else memoryview(b)[:got % _BLOCK])
        return got

    def start(self, at):
        self.n = at // _BLOCK
        self.fill = 0
        if at == 0:
            self.st["got"] = 0

    def write(self, mv):
        i = 0
        while i < len(mv):
            k = min(_BLOCK - self.fill, len(mv) - i)
            self.blk[self.fill:self.fill + k] = mv[i:i + k]
            self.fill += k
            i += k
            if self.fill == _BLOCK:
                self.part.writeblocks(self.n, self.blk)     # erase + program one sector
                self.n += 1
                self.fill = 0

    def sync(self, got):
        if self.fill and got % _BLOCK and got >= self.total:
            for j in range(self.fill, _BLOCK):              # the image's last, partial block
                self.blk[j] = 0xFF
            self.part.writeblocks(self.n, self.blk)
        done = self.n * _BLOCK
        if done - self.st.get("got", 0) >= _SYNC_BLOCKS * _BLOCK or got >= self.total:
            self.st["got"] = min(got, self.total) if got >= self.total else done
            self.save()

    def close(self):
        pass


def activate(part):
    part.set_boot()


def confirm():
    _esp32().Partition.mark_app_valid_cancel_rollback()


