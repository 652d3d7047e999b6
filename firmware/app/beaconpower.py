# The manhole board's battery model (docs/facilities.md "Energy of the manhole board"), as
# binpower.py is the smart bin's: arithmetic for the docs and the tests, never loaded on a
# board (roles/beacon.py does not import it).
from micropython import const

# Two ER18505 Li-SOCl2 cells
# in parallel, 3.6 V, 2 x 3500 mAh, 80 % usable over the life (passivation, cold). Deep sleep
# with the accelerometer in motion-detect low-power mode; one wake a day for the heartbeat and
# the rare wake for a tilt.
_CAP_MAH = const(7000)
_USABLE = 0.8
_SLEEP_UA = const(25)           # ESP32 deep sleep ~10 uA + MPU6050 cycle mode ~10 uA + regulator
_WAKE_MAS = 4.0 * 100           # a wake: ~4 s awake at ~100 mA (Wi-Fi, TLS, hello, events)
_TILTS_PER_YEAR = const(12)


def daily_mah(heartbeats_per_day=1, adv_ms=0):
    """Average charge a day (mAh); adv_ms > 0 adds BLE advertising (~0.1 mAs a 1 ms advert at
    ~10 mA for 3 channels, with the radio's wake-up: ~0.15 mAs an event)."""
    mas = heartbeats_per_day * _WAKE_MAS + _TILTS_PER_YEAR / 365.0 * _WAKE_MAS
    if adv_ms:
        mas += 86400000.0 / adv_ms * 0.15
    return _SLEEP_UA * 24 / 1000.0 + mas / 3600.0


def life_years(heartbeats_per_day=1, adv_ms=0):
    return _CAP_MAH * _USABLE / daily_mah(heartbeats_per_day, adv_ms) / 365.0
