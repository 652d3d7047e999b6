# ST LIS3DH over I2C: acceleration (g) and the INT1 motion interrupt. Loaded by accel.from_board
# only on a board that has this chip.
from drivers.accel import s16 as _s16

LIS3DH_ADDR = 0x18


class LIS3DH:
    def __init__(self, i2c, addr=LIS3DH_ADDR):
        self.i2c = i2c
        self.addr = addr
        i2c.writeto_mem(addr, 0x20, b"\x57")      # CTRL_REG1: 100 Hz, X/Y/Z on
        i2c.writeto_mem(addr, 0x23, b"\x88")      # CTRL_REG4: BDU, high resolution, +-2 g

    def who(self):
        return self.i2c.readfrom_mem(self.addr, 0x0F, 1)[0]   # 0x33

    def arm_motion(self, mg=64):
        """Latch INT1 high on motion above mg (16 mg per step at +-2 g), 10 Hz low power."""
        w = self.i2c.writeto_mem
        w(self.addr, 0x20, b"\x2f")                             # CTRL_REG1: 10 Hz, low power, XYZ
        w(self.addr, 0x21, b"\x01")                             # CTRL_REG2: high-pass on INT1
        w(self.addr, 0x22, b"\x40")                             # CTRL_REG3: IA1 on INT1
        w(self.addr, 0x24, b"\x08")                             # CTRL_REG5: latch INT1
        w(self.addr, 0x32, bytes((min(127, mg // 16),)))        # INT1_THS
        w(self.addr, 0x33, b"\x00")                             # INT1_DURATION
        w(self.addr, 0x30, b"\x2a")                             # INT1_CFG: X/Y/Z high
        self.i2c.readfrom_mem(self.addr, 0x31, 1)               # INT1_SRC: clear the latch

    def read(self):
        d = self.i2c.readfrom_mem(self.addr, 0x28 | 0x80, 6)   # little-endian, auto-increment
        # 12-bit left-justified; 1 mg per digit in high-resolution +-2 g mode
        return (_s16(d[1], d[0]) / 16 / 1000, _s16(d[3], d[2]) / 16 / 1000,
                _s16(d[5], d[4]) / 16 / 1000)
