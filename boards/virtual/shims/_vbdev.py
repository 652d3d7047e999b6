# Virtual board: register models of the simulated I2C devices (plain Python for MicroPython and
# CPython). Loaded by machine.I2C on first use. An accelerometer armed for motion (its interrupt
# latched on a change above a threshold) says so through armed_mg(): the host keeps that chip
# powered through the ESP32's deep sleep and raises its INT pin when the world moves
# (boards/virtual/binworld.py); reading the interrupt status register clears it (on_int_clear).
import time


def _ms():
    try:
        return time.ticks_ms()
    except AttributeError:                        # CPython
        return int(time.monotonic() * 1000)


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

    MOT_THR = 0x1F
    INT_ENABLE = 0x38

    def __init__(self, addr=0x68):
        self.addr = addr
        self.on_int_clear = None
        self.reset()

    def reset(self):
        self.regs = bytearray(128)
        self.regs[self.PWR_MGMT_1] = 0x40      # SLEEP after power-on: must be woken
        self.regs[self.WHO_AM_I] = 0x68
        self.ptr = 0

    def armed_mg(self):
        """Motion threshold (mg; 2 mg a step, datasheet MOT_THR) while the motion interrupt is
        enabled and the chip cycles (PWR_MGMT_1 CYCLE), else None."""
        r = self.regs
        if r[self.INT_ENABLE] & 0x40 and r[self.PWR_MGMT_1] & 0x20 and not r[self.PWR_MGMT_1] & 0x40:
            return max(2, r[self.MOT_THR] * 2)
        return None

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
                self.regs[self.INT_STATUS] &= 0xBE      # DATA_RDY and MOT_INT clear on read
                if self.on_int_clear is not None:
                    self.on_int_clear()
            self.ptr = (self.ptr + 1) & 0x7F
        return bytes(out)


class Lis3dh:
    """Register model of an ST LIS3DH accelerometer (sub-address MSB = auto-increment)."""
    WHO_AM_I = 0x0F
    CTRL_REG1 = 0x20
    CTRL_REG4 = 0x23
    STATUS_REG = 0x27
    OUT_X_L = 0x28

    CTRL_REG3 = 0x22
    INT1_CFG = 0x30
    INT1_SRC = 0x31
    INT1_THS = 0x32

    def __init__(self, addr=0x18):
        self.addr = addr
        self.on_int_clear = None
        self.reset()

    def reset(self):
        self.regs = bytearray(64)
        self.regs[self.WHO_AM_I] = 0x33
        self.regs[self.CTRL_REG1] = 0x07          # power-down (ODR = 0), axes enabled
        self.ptr = 0
        self.inc = False

    def armed_mg(self):
        """INT1 threshold (mg; 16 mg a step at +-2 g) while IA1 drives INT1 on a high event and
        the chip samples, else None."""
        r = self.regs
        if r[self.CTRL_REG3] & 0x40 and r[self.INT1_CFG] & 0x2A and r[self.CTRL_REG1] >> 4:
            return max(16, r[self.INT1_THS] * 16)
        return None

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
            if self.ptr == self.INT1_SRC and self.on_int_clear is not None:
                self.on_int_clear()                 # reading INT1_SRC releases a latched INT1
            if self.inc:
                self.ptr = (self.ptr + 1) & 0x3F
        return bytes(out)


class Vl53l1x:
    """Register model of an ST VL53L1X time-of-flight sensor (16-bit register addresses): the
    registers ST's ULD (VL53L1X_api.c) reads and writes for ranging - model id, start/stop,
    data ready every timing budget, range status and distance, interrupt clear. distance_mm() is
    the world: None (nothing in range, or a black bag that absorbs the light) gives range
    status 2, "signal below threshold"."""
    MODEL_ID = 0x010F
    MODE_START = 0x0087
    INT_CLEAR = 0x0086
    TIO_HV_STATUS = 0x0031
    RANGE_STATUS = 0x0089
    RANGE_MM = 0x0096
    BUDGET_MS = 100                               # the default configuration's timing budget
    MAX_MM = 4000

    def __init__(self, distance_mm, addr=0x29):
        self.addr = addr
        self.distance_mm = distance_mm
        self.regs = {self.MODEL_ID: 0xEA, self.MODEL_ID + 1: 0xCC}
        self.ptr = 0
        self.ranging = False
        self.since = 0

    def sample(self, accel_g, temp_c):
        if self.ranging and not self.regs.get(self.TIO_HV_STATUS) and _ms() - self.since >= self.BUDGET_MS:
            mm = self.distance_mm()
            ok = mm is not None and 0 <= mm <= self.MAX_MM
            self.regs[self.RANGE_STATUS] = 9 if ok else 4          # ULD status_rtn: 9 -> 0, 4 -> 2
            mm = int(mm) if ok else 0
            self.regs[self.RANGE_MM], self.regs[self.RANGE_MM + 1] = mm >> 8, mm & 0xFF
            self.regs[self.TIO_HV_STATUS] = 1

    def write(self, data):
        if len(data) < 2:
            return
        self.ptr = (data[0] << 8) | data[1]
        for b in data[2:]:
            if self.ptr == self.MODE_START:
                self.ranging = b == 0x40
                self.since = _ms()
                self.regs[self.TIO_HV_STATUS] = 0
            elif self.ptr == self.INT_CLEAR and b & 1:
                self.regs[self.TIO_HV_STATUS] = 0
                self.since = _ms()
            elif self.ptr not in (self.MODEL_ID, self.MODEL_ID + 1):
                self.regs[self.ptr] = b
            self.ptr = (self.ptr + 1) & 0xFFFF

    def read(self, n):
        out = bytearray(n)
        for i in range(n):
            out[i] = self.regs.get(self.ptr, 0)
            self.ptr = (self.ptr + 1) & 0xFFFF
        return bytes(out)


def make_accel(kind, addr):
    if kind == "mpu6050":
        return Mpu6050(addr or 0x68)
    if kind == "lis3dh":
        return Lis3dh(addr or 0x18)
    return None
