# InvenSense MPU-6050 over I2C: acceleration (g), temperature (tenths of a degree, integers) and
# the motion interrupt that wakes a sleeping board. Loaded by accel.from_board only on a board
# that has this chip.
from drivers.accel import s16 as _s16

MPU6050_ADDR = 0x68


class MPU6050:
    def __init__(self, i2c, addr=MPU6050_ADDR):
        self.i2c = i2c
        self.addr = addr
        i2c.writeto_mem(addr, 0x6B, b"\x00")      # PWR_MGMT_1: wake, internal clock
        i2c.writeto_mem(addr, 0x1C, b"\x00")      # ACCEL_CONFIG: +-2 g, 16384 LSB/g

    def who(self):
        return self.i2c.readfrom_mem(self.addr, 0x75, 1)[0]   # 0x68

    def read(self):
        d = self.i2c.readfrom_mem(self.addr, 0x3B, 6)          # big-endian X, Y, Z
        return (_s16(d[0], d[1]) / 16384, _s16(d[2], d[3]) / 16384, _s16(d[4], d[5]) / 16384)

    def temp_c10(self):
        """Temperature in tenths of a degree (datasheet: raw / 340 + 36.53 C), integers only."""
        d = self.i2c.readfrom_mem(self.addr, 0x41, 2)
        return _s16(d[0], d[1]) * 10 // 340 + 365

    def arm_motion(self, mg=64):
        """Latch INT high on motion above mg (2 mg per step) and cycle at 5 Hz with the gyro
        off (~10 uA): the deep-sleep wake of a smart bin that is knocked over or opened."""
        w = self.i2c.writeto_mem
        self.i2c.readfrom_mem(self.addr, 0x3A, 1)               # INT_STATUS: clear the latch
        w(self.addr, 0x1F, bytes((min(255, mg // 2),)))         # MOT_THR
        w(self.addr, 0x20, b"\x01")                             # MOT_DUR: 1 ms
        w(self.addr, 0x37, b"\x20")                             # INT_PIN_CFG: active high, latched
        w(self.addr, 0x38, b"\x40")                             # INT_ENABLE: motion
        w(self.addr, 0x6C, b"\x47")                             # PWR_MGMT_2: 5 Hz wake, gyro standby
        w(self.addr, 0x6B, b"\x20")                             # PWR_MGMT_1: cycle mode
