# InvenSense MPU6050 accelerometer (its gyro unused) over I2C, for drivers/accel.py. Registers
# from RM-MPU-6000A-00 (MPU-6000/MPU-6050 Register Map and Descriptions; MOT_THR, MOT_DUR and
# ACCEL_HPF as its earlier revisions give them, 2 mg and 1 ms a step).
from drivers.accel import s16



class MPU6050:
    ADDR = 0x68

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        i2c.writeto_mem(addr, 0x6B, b"\x00")      # PWR_MGMT_1: wake, internal clock
        i2c.writeto_mem(addr, 0x1C, b"\x00")      # ACCEL_CONFIG: +-2 g, 16384 LSB/g

    def who(self):
        return self.i2c.readfrom_mem(self.addr, 0x75, 1)[0]   # 0x68

    def read(self):
        d = self.i2c.readfrom_mem(self.addr, 0x3B, 6)          # big-endian X, Y, Z
        return (s16(d[0], d[1]) / 16384, s16(d[2], d[3]) / 16384, s16(d[4], d[5]) / 16384)

    def temp_c10(self):
        """Temperature in tenths of a degree (datasheet: raw / 340 + 36.53 C), integers only."""
        d = self.i2c.readfrom_mem(self.addr, 0x41, 2)
        return s16(d[0], d[1]) * 10 // 340 + 365

    def arm_motion(self, mg=64):
        """Latch INT high on motion above mg and cycle at 5 Hz with the gyro off (~10 uA): the
        deep-sleep wake of a smart bin knocked over or a manhole cover lifted. Motion is the
        high-passed acceleration of any axis above MOT_THR for MOT_DUR samples."""
        w = self.i2c.writeto_mem
        self.i2c.readfrom_mem(self.addr, 0x3A, 1)               # INT_STATUS: clear the latch
        w(self.addr, 0x1C, b"\x01")                             # ACCEL_CONFIG: +-2 g, ACCEL_HPF 5 Hz
        w(self.addr, 0x1F, bytes((min(255, mg // 2),)))         # MOT_THR: 1 LSB = 2 mg
        w(self.addr, 0x20, b"\x01")                             # MOT_DUR: 1 LSB = 1 ms
        w(self.addr, 0x37, b"\x20")                             # INT_PIN_CFG: LATCH_INT_EN, active high
        w(self.addr, 0x38, b"\x40")                             # INT_ENABLE: MOT_EN (bit 6)
        w(self.addr, 0x6C, b"\x47")                             # PWR_MGMT_2: LP_WAKE_CTRL 5 Hz, STBY_XG/YG/ZG
        w(self.addr, 0x6B, b"\x20")                             # PWR_MGMT_1: CYCLE, not SLEEP

    def motion_seen(self):
        """Whether the motion interrupt fired; reading INT_STATUS releases the INT pin."""
        return bool(self.i2c.readfrom_mem(self.addr, 0x3A, 1)[0] & 0x40)   # MOT_INT
