# The facility beacon's rules on MicroPython (docs/facilities.md): tilt, lamp against its
# schedule, sunrise/sunset with integer dates, Eddystone frames, down.beacon settings, BLE
# advertising (FakeBLE: the radio is the boundary), the battery model.
import sys
import mptest
from mptest import eq, ok, approx, raises

import beaconrules
import beaconpower
import suntimes
import devproto.eddystone as eddystone
import devproto.beacon as settings
import devproto.assetcode as assetcode


def test_tilt_opens_at_once_at_the_threshold_and_closes_below_it_with_hysteresis():
    t = beaconrules.Tilt(10)
    eq(t.step(3.0), None)
    eq(t.step(9.9), None)
    eq(t.step(10.0), "cover_open")
    eq(t.step(45.0), None)                 # still open: said once
    eq(t.step(8.5), None)                  # within the 2 degree hysteresis: still open
    eq(t.step(7.9), "cover_closed")
    eq(t.step(None), None)                 # no reading (accelerometer fault): no event
    eq(beaconrules.Tilt(25, is_open=True).step(24.0), None)          # restored open after a deep sleep


def test_lamp_fault_only_after_the_debounce_and_ok_again_after_it():
    lamp = beaconrules.Lamp(300)
    s = 1000                               # ticks_ms of one second
    eq(lamp.step(0, True, False), None)    # dark at night: maybe a passing moment
    eq(lamp.step(299 * s, True, False), None)
    eq(lamp.step(300 * s, True, False), "lamp_fault")
    eq(lamp.step(301 * s, True, False), None)  # said once
    eq(lamp.step(400 * s, True, True), None)   # lit again: must last too
    eq(lamp.step(500 * s, True, False), None)  # flickered off: the clock restarts
    eq(lamp.step(600 * s, True, True), None)
    eq(lamp.step(900 * s, True, True), "lamp_ok")
    eq(lamp.state, None)


def test_the_debounce_survives_the_ticks_wrap():
    import time
    top = time.ticks_add(0, -1)            # the last tick before ticks_ms wraps to 0
    lamp = beaconrules.Lamp(10)
    eq(lamp.step(time.ticks_add(top, -5000), True, False), None)
    eq(lamp.step(time.ticks_add(top, 2000), True, False), None)       # 7 s later, past the wrap
    eq(lamp.step(time.ticks_add(top, 5001), True, False), "lamp_fault")


def test_day_burning_needs_a_current_sensor():
    lamp = beaconrules.Lamp(60)
    s = 1000
    eq(lamp.step(0, False, True, current_known=True), None)
    eq(lamp.step(60 * s, False, True, current_known=True), "day_burning")
    eq(lamp.step(200 * s, False, False), None)
    eq(lamp.step(260 * s, False, False), "lamp_ok")
    light_only = beaconrules.Lamp(60)      # daylight reads as "lit": never day_burning
    eq(light_only.step(0, False, True, current_known=False), None)
    eq(light_only.step(1000 * s, False, True, current_known=False), None)


def test_day_of_year_from_integer_unix_time():
    eq(suntimes.day_of_year(1796563092, 480), (340, 1278))        # 2026-12-06 21:18 UTC+8
    eq(suntimes.day_of_year(1709164800, 0), (60, 0))              # 2024-02-29, a leap day
    eq(suntimes.day_of_year(1735689599, 0), (366, 1439))          # 2024-12-31 23:59
    eq(suntimes.day_of_year(1735689600, 0), (1, 0))
    eq(suntimes.day_of_year(1735660800, 480), (1, 0))             # midnight local, 16:00 UTC before


def test_sunrise_and_sunset_for_the_district_and_beyond_the_polar_circle():
    # Wuhan, 30.6 N 114.3 E, UTC+8: 21 June rises 05:21, sets 19:27; 21 December 07:14, 17:26
    rise, sets = suntimes.sun_minutes(172, 30.6, 114.3, 480)
    ok(abs(rise - (5 * 60 + 21)) <= 3 and abs(sets - (19 * 60 + 27)) <= 3, (rise, sets))
    rise, sets = suntimes.sun_minutes(355, 30.6, 114.3, 480)
    ok(abs(rise - (7 * 60 + 14)) <= 3 and abs(sets - (17 * 60 + 26)) <= 3, (rise, sets))
    eq(suntimes.sun_minutes(355, 78.2, 15.6, 60), "night")        # Svalbard in December
    eq(suntimes.sun_minutes(172, 78.2, 15.6, 120), "day")
    ok(suntimes.lamp_should_be_on(1200, 1045, 435))              # 20:00, lit from 17:25 to 07:15
    ok(suntimes.lamp_should_be_on(300, 1045, 435))               # 05:00
    ok(not suntimes.lamp_should_be_on(720, 1045, 435))           # noon
    ok(suntimes.lamp_should_be_on(600, 540, 660) and not suntimes.lamp_should_be_on(700, 540, 660))


def test_eddystone_url_frame_with_expansion_codes_fits_17_bytes():
    code = assetcode.from_random(b"\x01\x02\x03\x04\x05")
    url = assetcode.public_url("https://xl.gov", code)
    data = eddystone.encode_url(url)
    eq(data[0], 3)                                   # https://
    eq(len(data) - 1, 2 + 1 + 2 + 8)                 # "xl", ".gov/", "a/", the code
    ok(bytes((6,)) in data)                          # ".gov/" expansion code
    eq(eddystone.decode_url(data), url)
    frame = eddystone.url_frame(url, -20)
    eq(frame[0], 0x10)
    eq(frame[1], 0xEC)                               # -20 dBm, signed
    adv = eddystone.advert(frame)
    ok(len(adv) <= 31, len(adv))
    eq(adv[:3], b"\x02\x01\x06")
    eq(adv[5:7], b"\xaa\xfe")                        # the 16-bit UUID 0xFEAA, little-endian
    raises(ValueError, eddystone.encode_url, "https://fix.xl.gov.cn/a/" + code)   # 21 bytes
    raises(ValueError, eddystone.encode_url, "ftp://xl.gov/a/" + code)
    eq(eddystone.encode_url("https://www.x.com/")[0], 1)


def test_eddystone_uid_frame_carries_the_asset_id():
    frame = eddystone.uid_frame(eddystone.instance_of(258))
    eq(len(frame), 20)
    eq(frame[0], 0x00)
    eq(frame[2:12], eddystone.NAMESPACE)
    eq(frame[12:18], b"\x00\x00\x00\x00\x01\x02")
    ok(len(eddystone.advert(frame)) <= 31)


def test_down_beacon_keeps_known_valid_settings_only():
    got = settings.check_beacon({"type": "streetlight", "tilt_deg": 15, "url": "https://xl.gov/a/X",
                                 "lat_e4": 306000, "tilt_deg_x": 3, "dark_pct": 0, "adv_ms": True, "uid": 7})
    eq(got, {"type": "streetlight", "tilt_deg": 15, "url": "https://xl.gov/a/X", "lat_e4": 306000, "uid": 7})
    eq(settings.default("tilt_deg"), 10)


class FakeBLE:
    """The radio boundary: records what would be advertised."""
    inst = None

    def __init__(self):
        self.adverts = []
        self.on = False
        FakeBLE.inst = self

    def active(self, on=None):
        if on is not None:
            self.on = on
        return self.on

    def gap_advertise(self, interval_us, adv_data=None, connectable=True):
        self.adverts.append((interval_us, adv_data, connectable))


def test_advertiser_alternates_url_and_uid_frames_at_the_interval():
    class Mod:
        BLE = FakeBLE
    sys.modules["bluetooth"] = Mod
    import bleadv
    adv = bleadv.Advertiser()
    adv.set("https://xl.gov/a/K7QM4XPA", 42, 1000)
    adv.turn()
    adv.turn()
    ads = FakeBLE.inst.adverts
    eq([a[0] for a in ads], [1000000] * 3)
    eq([a[2] for a in ads], [False] * 3)             # not connectable
    eq(ads[0][1][11], 0x10)                          # URL frame
    eq(ads[1][1][11], 0x00)                          # UID frame
    eq(ads[2][1], ads[0][1])
    adv.set("https://a-very-long-host-name.example.cn/a/K7QM4XPA", 0, 500)   # does not fit, no uid
    eq(FakeBLE.inst.adverts[-1], (None, None, True))


def test_battery_model_gives_the_manhole_board_more_than_five_years():
    ok(beaconpower.life_years() >= 5, beaconpower.life_years())
    ok(beaconpower.life_years(adv_ms=1000) < 5)      # advertising every second would not
    ok(beaconpower.life_years(adv_ms=10000) >= 5, beaconpower.life_years(adv_ms=10000))


mptest.main(globals())
