"""The simulated world's numbers (the module the shims use, checked here on CPython)."""

import calendar
import importlib.util
import random
import time as _t
from pathlib import Path

import pytest

from boards.virtual import world
from boards.virtual.errors import VBoardError

SHIMS = Path(__file__).resolve().parents[2] / "boards" / "virtual" / "shims"


def _load(name):
    # load one shim module by path (the shims directory must not go on CPython's sys.path:
    # it holds MicroPython's machine.py, time.py, os.py)
    spec = importlib.util.spec_from_file_location("vb_" + name, SHIMS / (name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_vbsim = _load("_vbsim")
_vbdev = _load("_vbdev")


def test_speed_of_sound_and_echo_width():
    assert _vbsim.sound_speed(0) == pytest.approx(331.3)
    assert _vbsim.sound_speed(20) == pytest.approx(343.42)
    # 100 cm at 20 C: 2 * 1 m / 343.42 m/s = 5824 us
    assert _vbsim.echo_us(100, 20.0) == 5824
    # warmer air, shorter echo for the same distance
    assert _vbsim.echo_us(100, 40.0) < _vbsim.echo_us(100, 20.0) < _vbsim.echo_us(100, -10.0)
    # noise stays within +/- noise_cm
    widths = [_vbsim.echo_us(100, 20.0, noise_cm=1.0, rand=random.random) for _ in range(200)]
    per_cm = 2 / 100.0 / 343.42 * 1e6
    assert max(widths) - min(widths) <= 2 * per_cm + 1 and min(widths) >= 5824 - per_cm - 1


def test_blind_zone_and_range_limits():
    spec = _vbsim.ULTRASONIC["jsn-sr04t"]
    per_cm = 2 / 100.0 / 343.42 * 1e6
    for r in (0.0, 0.5, 0.999):
        w = _vbsim.echo_us(5, 20.0, rand=lambda: r)
        assert spec["blind_cm"] * per_cm - 1 <= w <= (spec["blind_cm"] + 15) * per_cm + 1
    assert _vbsim.echo_us(700, 20.0) == spec["no_echo_us"]
    assert _vbsim.echo_us(None, 20.0) == spec["no_echo_us"]
    assert _vbsim.echo_us(450, 20.0, "hc-sr04") == _vbsim.ULTRASONIC["hc-sr04"]["no_echo_us"]
    assert _vbsim.echo_us(10, 20.0, "hc-sr04") == round(10 * per_cm)


def test_adc_is_linear_then_saturates():
    raw, uv = _vbsim.adc_read(1.5, "esp32", 3, 12)
    assert uv == 1500000 and raw == round(1.5 / 2.45 * 4095)
    assert _vbsim.adc_read(3.0, "esp32", 3, 12) == (4095, 2450000)
    assert _vbsim.adc_read(1.5, "esp32", 0, 12) == (4095, 950000)        # forgot ATTN_11DB
    assert _vbsim.adc_read(0.5, "esp32", 0, 9)[0] == round(0.5 / 0.95 * 511)
    assert _vbsim.adc_read(-1, "esp32", 3)[0] == 0
    assert _vbsim.adc_u16(4095, 12) == 65535 and _vbsim.adc_u16(0, 12) == 0
    assert _vbsim.adc_u16(2048, 12) == 32776
    assert _vbsim.adc_read(2.5, "esp32c3", 3)[1] == 2500000


def test_gravity_vector():
    assert _vbsim.gravity_g(0) == pytest.approx((0, 0, 1))
    assert _vbsim.gravity_g(90, "x") == pytest.approx((0, 1, 0), abs=1e-9)
    assert _vbsim.gravity_g(90, "y") == pytest.approx((1, 0, 0), abs=1e-9)
    x, y, z = _vbsim.gravity_g(30, 45.0)
    assert (x * x + y * y + z * z) == pytest.approx(1.0)
    assert z == pytest.approx(0.8660254) and x == pytest.approx(y)


def test_mpu6050_registers():
    d = _vbdev.Mpu6050()
    d.sample((0, 0, 1), 25.0)
    d.write(bytes([0x3B]))
    assert d.read(6) == bytes(6)                  # asleep after power-on: no samples
    d.write(bytes([0x75]))
    assert d.read(1) == b"\x68"
    d.write(bytes([0x6B, 0x00]))                  # wake
    d.sample((0, 0, 1), 25.0)
    d.write(bytes([0x3B]))
    raw = d.read(8)
    ax, ay, az, t = [int.from_bytes(raw[i:i + 2], "big", signed=True) for i in range(0, 8, 2)]
    assert (ax, ay, az) == (0, 0, 16384)
    assert t / 340.0 + 36.53 == pytest.approx(25.0, abs=0.01)
    d.write(bytes([0x1C, 0x18]))                  # +/-16 g
    d.sample((0, -1, 0), 25.0)
    d.write(bytes([0x3D]))
    assert int.from_bytes(d.read(2), "big", signed=True) == -2048
    d.write(bytes([0x6B, 0x80]))                  # device reset: asleep again
    assert d.regs[0x6B] == 0x40


def test_lis3dh_needs_the_auto_increment_bit():
    d = _vbdev.Lis3dh()
    d.write(bytes([0x20, 0x57]))                  # 100 Hz, normal mode, xyz on
    d.sample((0, 0, 1), 20.0)
    d.write(bytes([0x28 | 0x80]))
    raw = d.read(6)
    z = int.from_bytes(raw[4:6], "little", signed=True)
    assert z == 16384 and z & 0x3F == 0           # 10-bit left-justified
    d.write(bytes([0x28]))                        # without 0x80: the same register again
    assert d.read(2) == bytes([raw[0], raw[0]])
    d.write(bytes([0x0F]))
    assert d.read(1) == b"\x33"


def test_a_bin_sensor_sees_the_waste_surface():
    assert _vbsim.target_cm({"distance_cm": 80.0}) == 80.0                       # no bin: distance_cm
    bin_world = {"distance_cm": 80.0, "bin_fill_pct": 40.0, "bin_depth_cm": 120.0, "bin_offset_cm": 10.0}
    assert _vbsim.target_cm(bin_world) == pytest.approx(10 + 120 * 0.6)
    assert _vbsim.target_cm(dict(bin_world, bin_fill_pct=120.0)) == 0.5            # heaped over the sensor


def test_accelerometers_say_when_they_are_armed_for_motion_and_release_on_status_read():
    mpu = _vbdev.Mpu6050()
    mpu.write(bytes([0x6B, 0x00]))
    assert mpu.armed_mg() is None
    for reg, value in ((0x1F, 32), (0x38, 0x40), (0x6B, 0x20)):     # the driver's arm_motion(64)
        mpu.write(bytes([reg, value]))
    assert mpu.armed_mg() == 64
    released = []
    mpu.on_int_clear = lambda: released.append(1)
    mpu.write(bytes([0x3A]))
    mpu.read(1)
    assert released == [1]
    lis = _vbdev.Lis3dh()
    for reg, value in ((0x20, 0x2F), (0x22, 0x40), (0x32, 4), (0x30, 0x2A)):
        lis.write(bytes([reg, value]))
    assert lis.armed_mg() == 64


def test_vl53l1x_ranges_as_the_uld_reads_it():
    seen = [412.0]
    tof = _vbdev.Vl53l1x(lambda: seen[0])

    def get(reg, n):
        tof.write(bytes([reg >> 8, reg & 0xFF]))
        return tof.read(n)

    assert get(0x010F, 2) == b"\xea\xcc"
    tof.write(bytes([0x00, 0x87, 0x40]))                       # start ranging
    tof.sample(None, 20.0)
    assert get(0x0031, 1)[0] & 1 == 0                          # not before a timing budget
    tof.since -= 100
    tof.sample(None, 20.0)
    assert get(0x0031, 1)[0] & 1 == 1
    assert get(0x0089, 1) == b"\x09" and int.from_bytes(get(0x0096, 2), "big") == 412
    tof.write(bytes([0x00, 0x86, 0x01]))                       # clear: the next one after a budget
    assert get(0x0031, 1)[0] & 1 == 0
    seen[0] = None                                            # a black bag: no signal
    tof.since -= 100
    tof.sample(None, 20.0)
    assert get(0x0089, 1) == b"\x04"                          # the ULD's status 2


def test_esp32_clock_calendar():
    assert _vbsim.gmtime2000(0) == (2000, 1, 1, 0, 0, 0, 5, 1)
    rnd = random.Random(7)
    for _ in range(500):
        s = rnd.randrange(0, 2 ** 31)
        t = _vbsim.gmtime2000(s)
        c = _t.gmtime(s + _vbsim.EPOCH_2000)
        assert t == (c.tm_year, c.tm_mon, c.tm_mday, c.tm_hour, c.tm_min, c.tm_sec, c.tm_wday, c.tm_yday)
        assert _vbsim.mktime2000(t) == s
    assert _vbsim.mktime2000((2026, 13, 1, 0, 0, 0)) == calendar.timegm((2027, 1, 1, 0, 0, 0)) - _vbsim.EPOCH_2000


def test_world_validation():
    assert world.validate({"distance_cm": "35", "tilt_axis": "y"}) == {"distance_cm": 35.0, "tilt_axis": "y"}
    assert world.validate({"distance_cm": None}) == {"distance_cm": None}
    with pytest.raises(VBoardError) as e:
        world.validate({"temp_c": 500, "bogus": 1, "light": "bright"})
    assert len(e.value.problems) == 3
    assert world.parse_value("pin_v", "36:1.2,39:0.4") == {"36": 1.2, "39": 0.4}
    assert world.parse_value("distance_cm", "none") is None
    with pytest.raises(VBoardError, match="unknown world key"):
        world.parse_value("nope", "1")
