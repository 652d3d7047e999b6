# ST LIS3DH accelerometer over I2C, for drivers/accel.py. Registers from the datasheet
# (DocID17530) and application note AN3308 (its "inertial wake-up" configuration).
from drivers.accel import s16



class LIS3DH:
    ADDR = 0x18

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        i2c.writeto_mem(addr, 0x20, b"\x57")      # CTRL_REG1: 100 Hz, X/Y/Z on
        i2c.writeto_mem(addr, 0x23, b"\x88")      # CTRL_REG4: BDU, high resolution, +-2 g

    def who(self):
        return self.i2c.readfrom_mem(self.addr, 0x0F, 1)[0]   # 0x33

    def arm_motion(self, mg=64):
        """Latch INT1 high on motion above mg (16 mg per step at +-2 g), 10 Hz low power
        (AN3308's wake-up: high-passed data, OR of the axes' high events)."""
        w = self.i2c.writeto_mem
        w(self.addr, 0x20, b"\x2f")                             # CTRL_REG1: ODR 10 Hz, LPen, Z/Y/X on
        w(self.addr, 0x21, b"\x01")                             # CTRL_REG2: HP_IA1, filter on INT1's data
        w(self.addr, 0x22, b"\x40")                             # CTRL_REG3: I1_IA1, IA1 on the INT1 pin
        w(self.addr, 0x24, b"\x08")                             # CTRL_REG5: LIR_INT1, latched
        w(self.addr, 0x32, bytes((min(127, mg // 16),)))        # INT1_THS: 1 LSB = 16 mg at +-2 g
        w(self.addr, 0x33, b"\x00")                             # INT1_DURATION: at once
        self.i2c.readfrom_mem(self.addr, 0x26, 1)               # REFERENCE: a read resets the filter
        w(self.addr, 0x30, b"\x2a")                             # INT1_CFG: OR of XHIE, YHIE, ZHIE
        self.i2c.readfrom_mem(self.addr, 0x31, 1)               # INT1_SRC: clear the latch

    def motion_seen(self):
        """Whether the interrupt fired; reading INT1_SRC releases the latched INT1 pin."""
        return bool(self.i2c.readfrom_mem(self.addr, 0x31, 1)[0] & 0x40)   # IA

    def read(self):
        d = self.i2c.readfrom_mem(self.addr, 0x28 | 0x80, 6)   # little-endian, auto-increment
        # 12-bit left-justified; 1 mg per digit in high-resolution +-2 g mode
        return (s16(d[1], d[0]) / 16 / 1000, s16(d[3], d[2]) / 16 / 1000,
                s16(d[5], d[4]) / 16 / 1000)
