# VL53L1X time-of-flight distance sensor over I2C (16-bit register addresses), following
# ST's ULD sequence (UM2510): check the model id, load the default configuration at
# 0x2D; for a measurement start ranging, wait for data ready, read the range status and
# the distance, clear the interrupt, and stop ranging after the last reading. Range status
# 0 is valid; 2 ("signal below threshold") is what a black bag gives (it absorbs the
# 940 nm light): such readings are None, like an ultrasonic sensor's missing echo.
import asyncio
from micropython import const

ADDR = const(0x29)
_MODEL = const(0x010F)          # IDENTIFICATION__MODEL_ID: 0xEACC
_MODE = const(0x0087)           # SYSTEM__MODE_START: 0x40 ranging, 0x00 stop
_CLEAR = const(0x0086)          # SYSTEM__INTERRUPT_CLEAR
_READY = const(0x0031)          # GPIO__TIO_HV_STATUS: bit 0 == 1 (active-high default)
_STATUS = const(0x0089)         # RESULT__RANGE_STATUS
_RANGE = const(0x0096)          # RESULT__FINAL_CROSSTALK_CORRECTED_RANGE_MM_SD0
# VL51L1X_DEFAULT_CONFIGURATION of ST's ULD (VL53L1X_api.c, BSD-3-Clause): 0x2D..0x87
_DEFAULT = const(
    b"\x00\x00\x00\x01\x02\x00\x02\x08\x00\x08\x10\x01\x01\x00\x00\x00"
    b"\x00\xff\x00\x0f\x00\x00\x00\x00\x00\x20\x0b\x00\x00\x02\x0a\x21"
    b"\x00\x00\x05\x00\x00\x00\x00\xc8\x00\x00\x38\xff\x01\x00\x08\x00"
    b"\x00\x01\xcc\x0f\x01\xf1\x0d\x01\x68\x00\x80\x08\xb8\x00\x00\x00"
    b"\x00\x0f\x89\x00\x00\x00\x00\x00\x00\x00\x01\x0f\x0d\x0e\x0e\x00"
    b"\x00\x02\xc7\xff\x9b\x00\x00\x00\x01\x00\x00")
# The ULD's status_rtn: RESULT__RANGE_STATUS & 0x1F -> range status (255: none)
_RTN = const(b"\xff\xff\xff\x05\x02\x04\x01\x07\x03\x00\xff\xff\x09\x0d\xff\xff\xff\xff\x0a\x06\xff\xff\x0b\x0c")


class Tof:
    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        if self._get(_MODEL, 2) != b"\xea\xcc":
            raise OSError("no VL53L1X at 0x%x" % addr)
        self._set(0x2D, _DEFAULT)
        self.last = None            # range status of the last reading

    def _get(self, reg, n):
        return self.i2c.readfrom_mem(self.addr, reg, n, addrsize=16)

    def _set(self, reg, data):
        self.i2c.writeto_mem(self.addr, reg, data, addrsize=16)

    async def _one(self):
        for _ in range(40):         # a 100 ms timing budget: ready within ~0.2 s
            if self._get(_READY, 1)[0] & 1:
                break
            await asyncio.sleep_ms(5)
        else:
            return None
        st = self._get(_STATUS, 1)[0] & 0x1F
        d = self._get(_RANGE, 2)
        self._set(_CLEAR, b"\x01")
        self.last = _RTN[st] if st < 24 else 255
        return (d[0] << 8 | d[1]) if self.last == 0 else None

    async def ranges_mm(self, n):
        """n readings in mm (None: no valid range; self.last says why)."""
        self._set(_MODE, b"\x40")
        out = []
        try:
            for _ in range(n):
                out.append(await self._one())
            return out
        finally:
            self._set(_MODE, b"\x00")


def from_board(board, i2c=None):
    """The board's VL53L1X (board.json "tof": "vl53l1x", on the I2C pins), or None."""
    if board.get("tof") != "vl53l1x" or board.pin("i2c_scl") is None:
        return None
    if i2c is None:
        from machine import I2C, Pin
        i2c = I2C(0, scl=Pin(board.pin("i2c_scl")), sda=Pin(board.pin("i2c_sda")), freq=400000)
    return Tof(i2c, board.get("tof_addr", ADDR))
