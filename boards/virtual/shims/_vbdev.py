# Virtual board: register models of the simulated I2C devices (plain Python for MicroPython and
# CPython). Loaded by machine.I2C on first use.


def _clamp16(v):
    v = int(round(v))
    if v > 32767:
        return 32767
    if v < -32768:
        return -32768
    return v


class Mpu6050:
    """Register model of an InvenSense MPU-6050 (accelerometer, gyro, temperature)."""
    WHO_AM_I = 0x75
    PWR_MGMT_1 = 0x6B
    ACCEL_CONFIG = 0x1C
    GYRO_CONFIG = 0x1B
    ACCEL_XOUT_H = 0x3B
    INT_STATUS = 0x3A

    def __init__(self, addr=0x68):
        self.addr = addr
        self.reset()

    def reset(self):
        self.regs = bytearray(128)
        self.regs[self.PWR_MGMT_1] = 0x40      # SLEEP after power-on: must be woken
        self.regs[self.WHO_AM_I] = 0x68
        self.ptr = 0

    def sample(self, accel_g, temp_c):
        """Latch a new sample (unless asleep)."""
        if self.regs[self.PWR_MGMT_1] & 0x40:
            return
        lsb = (16384, 8192, 4096, 2048)[(self.regs[self.ACCEL_CONFIG] >> 3) & 3]
        vals = [_clamp16(a * lsb) for a in accel_g]
        vals.append(_clamp16((temp_c - 36.53) * 340.0))
        vals.extend([0, 0, 0])                    # gyro: at rest
        i = self.ACCEL_XOUT_H
        for v in vals:
            v &= 0xFFFF
            self.regs[i] = v >> 8
            self.regs[i + 1] = v & 0xFF
            i += 2
        self.regs[self.INT_STATUS] |= 0x01

    def write(self, data):
        if not data:
            return
        self.ptr = data[0] & 0x7F
        for b in data[1:]:
            self._set(self.ptr, b)
            self.ptr = (self.ptr + 1) & 0x7F

    def _set(self, reg, b):
        if reg == self.PWR_MGMT_1 and b & 0x80:
            self.reset()
            return
        if reg == self.WHO_AM_I:
            return
        self.regs[reg] = b

    def read(self, n):
        out = bytearray(n)
        for i in range(n):
            out[i] = self.regs[self.ptr]
            if self.ptr == self.INT_STATUS:
                self.regs[self.INT_STATUS] &= 0xFE
            self.ptr = (self.ptr + 1) & 0x7F
        return bytes(out)


class Lis3dh:
    """Register model of an ST LIS3DH accelerometer (sub-address MSB = auto-increment)."""
    WHO_AM_I = 0x0F
    CTRL_REG1 = 0x20
    CTRL_REG4 = 0x23
    STATUS_REG = 0x27
    OUT_X_L = 0x28

    def __init__(self, addr=0x18):
        self.addr = addr
        self.reset()

    def reset(self):
        self.regs = bytearray(64)
        self.regs[self.WHO_AM_I] = 0x33
        self.regs[self.CTRL_REG1] = 0x07          # power-down (ODR = 0), axes enabled
        self.ptr = 0
        self.inc = False

    def sample(self, accel_g, temp_c):
        ctrl1 = self.regs[self.CTRL_REG1]
        if ctrl1 >> 4 == 0:                       # power-down: outputs not updated
            return
        ctrl4 = self.regs[self.CTRL_REG4]
        fs = (2, 4, 8, 16)[(ctrl4 >> 4) & 3]
        if ctrl1 & 0x08:
            bits = 8                              # low-power mode
        elif ctrl4 & 0x08:
            bits = 12                             # high-resolution mode
        else:
            bits = 10                             # normal mode
        mask = (0xFFFF << (16 - bits)) & 0xFFFF
        i = self.OUT_X_L
        for a in accel_g:
            v = _clamp16(a * 32768.0 / fs) & mask
            self.regs[i] = v & 0xFF
            self.regs[i + 1] = v >> 8
            i += 2
        self.regs[self.STATUS_REG] = 0x0F

    def write(self, data):
        if not data:
            return
        self.inc = bool(data[0] & 0x80)
        self.ptr = data[0] & 0x3F
        for b in data[1:]:
            if self.ptr != self.WHO_AM_I:
                self.regs[self.ptr] = b
            if self.inc:
                self.ptr = (self.ptr + 1) & 0x3F

    def read(self, n):
        out = bytearray(n)
        for i in range(n):
            out[i] = self.regs[self.ptr]
            if self.inc:
                self.ptr = (self.ptr + 1) & 0x3F
        return bytes(out)


def make_accel(kind, addr):
    if kind == "mpu6050":
        return Mpu6050(addr or 0x68)
    if kind == "lis3dh":
        return Lis3dh(addr or 0x18)
    return None
