# Accelerometer over I2C: MPU6050 or LIS3DH. read() -> (x, y, z) in g.
# tilt_deg(): angle between the measured gravity vector and the sensor's z axis
# (0 = lying flat, z up); angle_deg(): angle between two vectors, e.g. the current
# reading and the one recorded at installation (a manhole cover's "installed angle").
# The chips' drivers are modules of their own (drivers/mpu6050.py, drivers/lis3dh.py), loaded
# by from_board for the one the board has: a board never holds the other's code. Each has
# read(), who(), arm_motion() - the chip watches on its own (~10 uA) and latches its INT pin
# high on a jolt, which wakes the deep-sleeping board - and motion_seen(), which reads and
# clears that latch.
import math


def s16(hi, lo):
    """A signed 16-bit register value from its two bytes."""
    v = (hi << 8) | lo
    return v - 65536 if v & 0x8000 else v


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
    if kind == "mpu6050":
        from drivers.mpu6050 import MPU6050 as chip
    elif kind == "lis3dh":
        from drivers.lis3dh import LIS3DH as chip
    else:
        raise ValueError("unknown accel %s" % kind)
    return chip(i2c, data.get("accel_addr") or chip.ADDR)
