# Battery model of a smart bin (docs/smart-bins.md "Battery"): one lithium-thionyl chloride
# C cell (ER26500: 3.6 V, 8500 mAh) with a hybrid layer capacitor beside it for the Wi-Fi
# transmit peaks (~240 mA, more than the bobbin cell gives). Awake time per wake x current,
# plus the sleep current, against the usable charge. Plain Python: the tests run it on
# MicroPython, benchmarks and docs import the same numbers on CPython.
try:
    from micropython import const
except ImportError:             # CPython
    def const(x):
        return x

_CAPACITY_MAH = const(8500)
_USABLE = const(0.8)            # passivation, cold nights, ~1 %/year self-discharge
_SLEEP_UA = const(25)           # ESP32 RTC 10 + MPU6050 motion cycle (5 Hz) 10 + regulator 2
                                # + sensor supply switched off ~3
_SAMPLE_MA = const(45)          # awake without radio: CPU ~40 mA + JSN-SR04T ~5 mA
_SAMPLE_S = const(0.8)          # boot 0.3 s, 7 echoes 60 ms apart, accelerometer, flash
_REPORT_MA = const(110)         # Wi-Fi scan and connect, TLS, hello + events (peaks ~240 mA)
_REPORT_S = const(5.0)          # every connect scans all channels on the ESP32 port (~1.5 s)
_CHANGES_PER_DAY = const(6)     # 5-point changes of a bin filled in ~4 days, plus an emptying


def daily_mah(sample_min=15, report_h=6, changes=_CHANGES_PER_DAY):
    """Average charge per day (mAh): sleep, quiet sample wakes (no radio), and reports (the
    changes and the periodic ones counted apart: an upper bound)."""
    reports = changes + 24.0 / report_h
    mas = 1440.0 / sample_min * _SAMPLE_S * _SAMPLE_MA + reports * _REPORT_S * _REPORT_MA
    return _SLEEP_UA * 24 / 1000.0 + mas / 3600.0


def life_days(**kw):
    """Days a fresh cell lasts (the arguments of daily_mah)."""
    return _CAPACITY_MAH * _USABLE / daily_mah(**kw)
