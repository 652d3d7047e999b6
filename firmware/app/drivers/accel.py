# Accelerometer over I2C: MPU6050 or LIS3DH. read() -> (x, y, z) in g.
# tilt_deg(): angle between the measured gravity vector and the sensor's z axis
# (0 = lying flat, z up); angle_deg(): angle between two vectors, e.g. the current
# reading and the one recorded at installation (a manhole cover's "installed angle").
# arm_motion(): the chip watches on its own (~10 uA) and latches its INT pin high on a jolt,
# which wakes the deep-sleeping board; motion_seen() reads and clears that latch. Registers
# from the datasheets: InvenSense RM-MPU-6000A-00 (MPU-6000/MPU-6050 Register Map and
# Descriptions; MOT_THR/MOT_DUR and ACCEL_HPF as its earlier revisions give them) and
# ST DocID17530 (LIS3DH datasheet) with application note AN3308 ("inertial wake-up").
import math

MPU6050_ADDR = 0x68
LIS3DH_ADDR = 0x18


def _s16(hi, lo):
    v = (hi << 8) | lo
    return v - 65536 if v & 0x8000 else v


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


class LIS3DH:
    def __init__(self, i2c, addr=LIS3DH_ADDR):
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
        return (_s16(d[1], d[0]) / 16 / 1000, _s16(d[3], d[2]) / 16 / 1000,
                _s16(d[5], d[4]) / 16 / 1000)


def norm(v):
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def angle_deg(a, b):
    """Angle between vectors a and b in degrees (None if either is ~zero)."""
    na, nb = norm(a), norm(b)
    if na < 1e-6 or nb < 1e-6:
        return None
    c = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def tilt_deg(v):
    """Tilt from vertical: angle between the reading and the +z axis."""
    return angle_deg(v, (0.0, 0.0, 1.0))


def from_board(board, i2c=None):
    """The board's accelerometer (board.json "accel": "mpu6050" | "lis3dh"), or None.
    board: a Board (board.py) or the board.json dict."""
    data = getattr(board, "data", board)
    kind = data.get("accel")
    pins = data.get("pins") or {}
    if not kind or pins.get("i2c_scl") is None or pins.get("i2c_sda") is None:
        return None
    if i2c is None:
        from machine import I2C, Pin
        i2c = I2C(0, scl=Pin(pins["i2c_scl"]), sda=Pin(pins["i2c_sda"]), freq=400000)
    addr = data.get("accel_addr")
    if kind == "mpu6050":
        return MPU6050(i2c, addr or MPU6050_ADDR)
    if kind == "lis3dh":
        return LIS3DH(i2c, addr or LIS3DH_ADDR)
    raise ValueError("unknown accel %s" % kind)
