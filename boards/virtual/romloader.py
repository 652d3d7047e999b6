"""The ESP32 ROM's serial download protocol, as a virtual board in download mode answers it.

Written against esptool 5's loader (esptool/loader.py, esptool/targets/esp32.py) and its
protocol notes (docs/en/advanced-topics/serial-protocol.rst), so that unmodified esptool can
detect the chip, read its MAC and flash id, erase, write (plain and deflated), verify with MD5,
read back and change the baud rate:

- SLIP framing both ways (0xC0 ends, 0xDB 0xDC / 0xDB 0xDD escapes); request
  `<BBHI` (0, op, length, checksum) + data; response `<BBHI` (1, op, length, value) + data + status.
  The ESP32 ROM ends a response with 4 status bytes (status, error, 0, 0), the flasher stub
  with 2; an unknown command gets status 1, error 0x05 (ROM) or 0xFF (stub).
- SYNC is answered 8 times with a non-zero value by the ROM (loader.py sync() reads 7 more),
  0 by the stub (sync_stub_detected).
- READ_REG / WRITE_REG reach a small register file: the chip-detect magic at 0x40001000
  (ESP32ROM.MAGIC_VALUE 0x00F01D83), the eFuse words esp32.py reads (MAC in words 1-2 as
  read_mac() unpacks them, chip revision v3.0, package D0WD), APB_CTL_DATE, the RTC
  calibration change_baud() reads, and the SPI0 controller at 0x3FF42000: a write of
  SPI_CMD_USR runs the command in USR2 (run_spiflash_command(): RDID 0x9F, SFDP 0x5A, RDSR...)
  against the flash chip model and leaves the answer in W0.
- FLASH_BEGIN erases up front (ROM) or as data arrives (stub); FLASH_DATA / FLASH_DEFL_DATA
  check the block checksum (ROM error 0x07, stub 0xC1) and the sequence number; deflate data is
  a zlib stream inflated as it arrives. SPI_FLASH_MD5 answers 32 hex characters (ROM) or 16
  raw bytes (stub). READ_FLASH_SLOW (ROM) answers 64 bytes; READ_FLASH (stub) streams blocks
  the host acknowledges, then the MD5.
- MEM_BEGIN / MEM_DATA / MEM_END load code into RAM and jump to it. There is no Xtensa CPU
  here: whatever was uploaded, a jump to it starts a Python model of esptool's flasher stub,
  which greets with "OHAI" as the real one does (stub behaviour per loader.py StubMixin).

Flash timing follows a W25Q32-class chip's typical datasheet figures (FlashTiming), so
flashing through a virtual board takes a meaningful time; the serial line's speed is applied by
the serial port (serialport.py), not here.
"""

import asyncio
import hashlib
import struct
import zlib

from ..flashimage import SECTOR

# esptool loader.py ESP_CMDS
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END, SPI_FLASH_MD5 = 0x10, 0x11, 0x12, 0x13
ERASE_FLASH, ERASE_REGION, READ_FLASH = 0xD0, 0xD1, 0xD2
NAMES = {v: k for k, v in dict(
    SYNC=SYNC, WRITE_REG=WRITE_REG, READ_REG=READ_REG, FLASH_BEGIN=FLASH_BEGIN, FLASH_DATA=FLASH_DATA,
    FLASH_END=FLASH_END, MEM_BEGIN=MEM_BEGIN, MEM_END=MEM_END, MEM_DATA=MEM_DATA, SPI_SET_PARAMS=SPI_SET_PARAMS,
    SPI_ATTACH=SPI_ATTACH, READ_FLASH_SLOW=READ_FLASH_SLOW, CHANGE_BAUDRATE=CHANGE_BAUDRATE,
    FLASH_DEFL_BEGIN=FLASH_DEFL_BEGIN, FLASH_DEFL_DATA=FLASH_DEFL_DATA, FLASH_DEFL_END=FLASH_DEFL_END,
    SPI_FLASH_MD5=SPI_FLASH_MD5, ERASE_FLASH=ERASE_FLASH, ERASE_REGION=ERASE_REGION,
    READ_FLASH=READ_FLASH).items()}

# ROM error codes (serial-protocol.rst "ROM Loader Errors") and stub ones (util.py)
ROM_BAD_MESSAGE, ROM_FAILED, ROM_CHECKSUM, ROM_FLASH_WRITE, ROM_DEFLATE = 0x05, 0x06, 0x07, 0x08, 0x0B
STUB_BAD_LEN, STUB_BAD_CHECKSUM, STUB_NOT_FLASH_MODE, STUB_INFLATE, STUB_TOO_MUCH = 0xC0, 0xC1, 0xC6, 0xC7, 0xC9
STUB_NOT_IMPLEMENTED = 0xFF

# esptool targets/esp32.py
ESP32_MAGIC = 0x00F01D83
CHIP_DETECT_MAGIC_REG = 0x40001000
EFUSE_BASE = 0x3FF5A000
APB_CTL_DATE = 0x3FF6607C
RTCCALICFG1 = 0x3FF5F06C
GPIO_STRAP = 0x3FF44038
UART_CLKDIV = 0x3FF40014        # get_crystal_freq(): baud * divider = the 40 MHz crystal
SPI_BASE = 0x3FF42000
SPI_CMD, SPI_ADDR, SPI_USR, SPI_USR1, SPI_USR2 = (SPI_BASE + o for o in (0x00, 0x04, 0x1C, 0x20, 0x24))
SPI_MISO_DLEN, SPI_W0 = SPI_BASE + 0x2C, SPI_BASE + 0x80
SPI_CMD_USR = 1 << 18
CHECKSUM_SEED = 0xEF
JEDEC_WINBOND, JEDEC_W25Q = 0xEF, 0x40


class FlashTiming:
    """Typical W25Q32JV datasheet figures: sector (4 KB) erase 45 ms, 64 KB block erase 150 ms,
    page (256 B) program 0.4 ms, chip erase 10 s for 4 MB."""
    sector_erase_s = 0.045
    block_erase_s = 0.150
    page_program_s = 0.0004
    chip_erase_s_per_mb = 2.5


def slip_encode(payload):
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def _xor(data):
    s = CHECKSUM_SEED
    for b in data:
        s ^= b
    return s


def efuse_words(mac):
    """The ESP32 eFuse read registers for a MAC of 6 bytes (words 0-6)."""
    w = [0] * 8
    w[1] = int.from_bytes(mac[2:6], "big")          # read_mac(): pack(">II", word2, word1)[2:8]
    w[2] = (mac[0] << 8) | mac[1]
    w[3] = (1 << 9) | (1 << 15)                     # package D0WD, rev bit 0 (v3: with word5 bit 20 + APB date)
    w[4] = 100                                      # CK8M frequency figure (change_baud's crystal estimate)
    w[5] = 1 << 20
    return w


class RomLoader:
    """One download-mode session of a chip: created when EN rises with IO0 low."""

    def __init__(self, flash, mac, send, *, chip="esp32", on_baud=None, on_run=None, note=None,
                 timing=FlashTiming):
        self.flash = flash                    # boards.flashimage.Flash
        self.mac = bytes(mac)
        self.send_raw = send                  # bytes -> the UART's TX line
        self.chip = chip
        self.on_baud = on_baud or (lambda baud: None)
        self.on_run = on_run or (lambda: None)
        self.note = note or (lambda msg: None)
        self.timing = timing
        self.stub = False
        self.regs = {}
        self.efuse = efuse_words(self.mac)
        self._rx = bytearray()
        self._in_frame = False
        self._packets = asyncio.Queue()
        self._task = None
        self._write = None                    # the FLASH_BEGIN / FLASH_DEFL_BEGIN in progress
        self._mem = None
        self.stats = {"commands": 0, "bytes_written": 0, "erased": 0}

    # ------------------------------------------------------------------ wire
    def start(self):
        self._task = asyncio.ensure_future(self._run())

    def close(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def feed(self, data):
        """Bytes from the host's side of the UART: SLIP frames (anything between frames is noise)."""
        for b in data:
            if b == 0xC0:
                if self._in_frame and self._rx:
                    self._packets.put_nowait(self._unescape(bytes(self._rx)))
                    self._rx.clear()
                    self._in_frame = True     # a C0 both ends one frame and may start the next
                else:
                    self._in_frame = True
                    self._rx.clear()
            elif self._in_frame:
                self._rx.append(b)

    @staticmethod
    def _unescape(raw):
        return raw.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")

    def _send(self, payload):
        self.send_raw(slip_encode(payload))

    def _reply(self, op, value=0, data=b"", error=0):
        status = bytes([1 if error else 0, error])
        if not self.stub:
            status += b"\0\0"
        body = data + status
        self._send(struct.pack("<BBHI", 1, op, len(body), value) + body)

    async def _run(self):
        while True:
            pkt = await self._packets.get()
            if len(pkt) < 8 or pkt[0] != 0:
                continue                      # not a request (a stray ACK, line noise)
            _d, op, length, chk = struct.unpack_from("<BBHI", pkt)
            data = pkt[8:8 + length]
            self.stats["commands"] += 1
            try:
                await self._command(op, data, chk)
            except asyncio.CancelledError:
                raise
            except Exception as e:        # a bug here must answer, not hang esptool
                self.note("ROM loader: %s failed: %r" % (NAMES.get(op, hex(op)), e))
                self._reply(op, error=ROM_FAILED if not self.stub else 0xC4)

    # ------------------------------------------------------------------ commands
    async def _command(self, op, data, chk):
        unsupported = STUB_NOT_IMPLEMENTED if self.stub else ROM_BAD_MESSAGE
        if op == SYNC:
            if data[:4] != b"\x07\x07\x12\x20":
                return self._reply(op, error=ROM_BAD_MESSAGE)
            value = 0 if self.stub else 0x20120707
            for _ in range(1 if self.stub else 8):
                self._reply(op, value)
            return
        if op == READ_REG:
            (addr,) = struct.unpack_from("<I", data)
            return self._reply(op, self.read_reg(addr))
        if op == WRITE_REG:
            for i in range(0, len(data) - 15, 16):
                addr, value, mask, _delay = struct.unpack_from("<IIII", data, i)
                self.write_reg(addr, value, mask)
            return self._reply(op)
        if op in (SPI_ATTACH, SPI_SET_PARAMS):
            if op == SPI_SET_PARAMS:
                _id, total, _blk, _sec, _page, _mask = struct.unpack_from("<IIIIII", data)
                self.note("SPI flash parameters: %d bytes (chip has %d)" % (total, self.flash.size))
            return self._reply(op)
        if op == CHANGE_BAUDRATE:
            new, _old = struct.unpack_from("<II", data)
            self._reply(op)
            self.regs[UART_CLKDIV] = 40000000 // max(new, 1)
            self.on_baud(new)
            return
        if op in (FLASH_BEGIN, FLASH_DEFL_BEGIN):
            return await self._flash_begin(op, data)
        if op in (FLASH_DATA, FLASH_DEFL_DATA):
            return await self._flash_data(op, data, chk)
        if op in (FLASH_END, FLASH_DEFL_END):
            return self._flash_end(op, data)
        if op == SPI_FLASH_MD5:
            addr, size = struct.unpack_from("<II", data)
            if addr + size > self.flash.size:
                return self._reply(op, error=ROM_FAILED if not self.stub else 0xC4)
            await asyncio.sleep(size / (8 << 20))          # the chip hashes ~8 MB/s
            digest = hashlib.md5(self.flash.read(addr, size)).digest()
            return self._reply(op, data=digest if self.stub else digest.hex().encode())
        if op == READ_FLASH_SLOW and not self.stub:
            addr, size = struct.unpack_from("<II", data)
            if size > 64 or addr + size > self.flash.size:
                return self._reply(op, error=0x0A)
            return self._reply(op, data=self.flash.read(addr, size).ljust(64, b"\xff"))
        if op == MEM_BEGIN:
            size, blocks, blocksize, offset = struct.unpack_from("<IIII", data)
            self._mem = {"size": size, "got": 0, "offset": offset}
            return self._reply(op)
        if op == MEM_DATA:
            if self._mem is None:
                return self._reply(op, error=ROM_FAILED)
            size, _seq, _a, _b = struct.unpack_from("<IIII", data)
            block = data[16:16 + size]
            if len(block) != size or _xor(block) != chk & 0xFF:
                return self._reply(op, error=ROM_CHECKSUM)
            self._mem["got"] += size
            return self._reply(op)
        if op == MEM_END:
            flag, entry = struct.unpack_from("<II", data)
            self._reply(op)
            if flag == 0 and entry:
                # jump to the uploaded code: the flasher stub (modelled, nothing executes)
                self.stub = True
                self.note("ROM loader: code uploaded to RAM started at 0x%08x: the flasher stub (modelled)" % entry)
                await asyncio.sleep(0.005)
                self._send(b"OHAI")
            return
        if self.stub and op == ERASE_FLASH:
            await self._erase(0, self.flash.size, whole_chip=True)
            return self._reply(op)
        if self.stub and op == ERASE_REGION:
            addr, size = struct.unpack_from("<II", data)
            if addr % SECTOR or size % SECTOR or addr + size > self.flash.size:
                return self._reply(op, error=0xC4)
            await self._erase(addr, size)
            return self._reply(op)
        if self.stub and op == READ_FLASH:
            return await self._read_flash(op, data)
        return self._reply(op, error=unsupported)

    # ------------------------------------------------------------------ registers
    def read_reg(self, addr):
        if addr == CHIP_DETECT_MAGIC_REG:
            return ESP32_MAGIC
        if EFUSE_BASE <= addr < EFUSE_BASE + 4 * len(self.efuse):
            return self.efuse[(addr - EFUSE_BASE) // 4]
        if addr == APB_CTL_DATE:
            return 1 << 31                       # with the eFuse bits: revision v3.0
        if addr == RTCCALICFG1:
            return 1024 << 7                     # with CK8M 100: the ROM's 40 MHz crystal estimate
        if addr == UART_CLKDIV:
            return self.regs.get(addr, 40000000 // 115200)
        if addr == GPIO_STRAP:
            return 0x03                          # strapped for download boot
        return self.regs.get(addr, 0)

    def write_reg(self, addr, value, mask=0xFFFFFFFF):
        old = self.regs.get(addr, 0)
        self.regs[addr] = (old & ~mask) | (value & mask)
        if addr == SPI_CMD and value & SPI_CMD_USR:
            self._spi_user_command()
            self.regs[SPI_CMD] = 0               # done at once

    def _spi_user_command(self):
        """run_spiflash_command(): the command byte in USR2, MISO length, address in ADDR."""
        cmd = self.regs.get(SPI_USR2, 0) & 0xFF
        miso_bits = (self.regs.get(SPI_MISO_DLEN, 0) & 0xFFFFFF) + 1
        usr1 = self.regs.get(SPI_USR1, 0)
        addr_bits = ((usr1 >> 26) & 0x3F) + 1
        addr = self.regs.get(SPI_ADDR, 0) >> (32 - addr_bits) if addr_bits < 32 else self.regs.get(SPI_ADDR, 0)
        capacity = max(self.flash.size, 1).bit_length() - 1
        if cmd == 0x9F:                                   # RDID: manufacturer, type, capacity
            result = JEDEC_WINBOND | (JEDEC_W25Q << 8) | (capacity << 16)
        elif cmd == 0x5A:                                 # SFDP: its header, "SFDP" then rev 1.6
            sfdp = b"SFDP\x06\x01\x01\xff" + b"\x00\x06\x01\x10\x80\x00\x00\xff" + b"\xff" * 16
            result = int.from_bytes(sfdp[addr:addr + 4].ljust(4, b"\xff"), "little")
        else:                                             # status registers, resets, power modes
            result = 0
        if miso_bits < 32:
            result &= (1 << miso_bits) - 1
        self.regs[SPI_W0] = result

    # ------------------------------------------------------------------ flash
    async def _erase(self, addr, size, whole_chip=False):
        if whole_chip:
            await asyncio.sleep(self.timing.chip_erase_s_per_mb * size / (1 << 20))
        a = addr
        end = addr + size
        while a < end:
            if a % 0x10000 == 0 and a + 0x10000 <= end:
                step, t = 0x10000, self.timing.block_erase_s
            else:
                step, t = SECTOR, self.timing.sector_erase_s
            if not whole_chip:
                await asyncio.sleep(t)
            self.flash.erase(a, step)
            a += step
        self.flash.flush()
        self.stats["erased"] += size

    async def _flash_begin(self, op, data):
        size, blocks, blocksize, offset = struct.unpack_from("<IIII", data)
        if offset % SECTOR or offset + (size if op == FLASH_BEGIN else 0) > self.flash.size:
            return self._reply(op, error=ROM_FAILED if not self.stub else 0xC4)
        self._write = {"deflate": op == FLASH_DEFL_BEGIN, "offset": offset, "pos": offset, "seq": 0,
                       "size": size, "blocks": blocks, "erased_to": offset,
                       "inflate": zlib.decompressobj() if op == FLASH_DEFL_BEGIN else None}
        if not self.stub and size:
            # ROM erases the region up front (serial-protocol.rst "Writing Data")
            end = min(-(-(offset + size) // SECTOR) * SECTOR, self.flash.size)
            await self._erase(offset, end - offset)
            self._write["erased_to"] = end
        return self._reply(op)

    async def _flash_data(self, op, data, chk):
        w = self._write
        if w is None or w["deflate"] != (op == FLASH_DEFL_DATA):
            return self._reply(op, error=STUB_NOT_FLASH_MODE if self.stub else ROM_FAILED)
        size, seq, _a, _b = struct.unpack_from("<IIII", data)
        block = data[16:16 + size]
        if len(block) != size:
            return self._reply(op, error=STUB_BAD_LEN if self.stub else ROM_BAD_MESSAGE)
        if _xor(block) != chk & 0xFF:
            return self._reply(op, error=STUB_BAD_CHECKSUM if self.stub else ROM_CHECKSUM)
        if seq != w["seq"]:
            return self._reply(op, error=ROM_FAILED if not self.stub else 0xC4)
        w["seq"] += 1
        if w["deflate"]:
            try:
                plain = w["inflate"].decompress(block)
            except zlib.error:
                return self._reply(op, error=STUB_INFLATE if self.stub else ROM_DEFLATE)
        else:
            plain = block
        if w["pos"] + len(plain) > self.flash.size:
            return self._reply(op, error=STUB_TOO_MUCH if self.stub else ROM_FLASH_WRITE)
        if self.stub:
            # the stub acknowledges a block once it is received and writes it while the next one
            # arrives (the next command waits for this one's flash work, not for its reply)
            self._reply(op)
        end = w["pos"] + len(plain)
        if w["erased_to"] < end:
            # erase ahead in 64 KB blocks where the region allows (the stub does), else sectors
            region_end = min(-(-(w["offset"] + w["size"]) // SECTOR) * SECTOR, self.flash.size)
            to = max(-(-end // SECTOR) * SECTOR, min(region_end, -(-end // 0x10000) * 0x10000))
            await self._erase(w["erased_to"], min(to, self.flash.size) - w["erased_to"])
            w["erased_to"] = min(to, self.flash.size)
        if plain:
            await asyncio.sleep(self.timing.page_program_s * len(plain) / 256)
            self.flash.program(w["pos"], plain)
            self.flash.flush()
            w["pos"] = end
            self.stats["bytes_written"] += len(plain)
        if not self.stub:
            return self._reply(op)

    def _flash_end(self, op, data):
        (stay,) = struct.unpack_from("<I", data) if len(data) >= 4 else (1,)
        self._write = None
        self._reply(op)
        if not stay:
            self.on_run()                     # leave the loader and run the app in flash

    async def _read_flash(self, op, data):
        addr, length, block, in_flight = struct.unpack_from("<IIII", data)
        if addr + length > self.flash.size or not block:
            return self._reply(op, error=0xC4)
        self._reply(op)
        payload = self.flash.read(addr, length)
        sent = acked = 0
        while acked < length:
            while sent < length and (sent - acked) < block * max(1, in_flight):
                chunk = payload[sent:sent + block]
                self._send(chunk)
                sent += len(chunk)
            ack = await self._packets.get()
            if len(ack) == 4:
                acked = struct.unpack("<I", ack)[0]
        self._send(hashlib.md5(payload).digest())
