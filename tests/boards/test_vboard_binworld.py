"""The host side of a virtual smart bin's world (boards/virtual/binworld.py): a district bin's
fill over simulated time, and what counts as motion for a sleeping accelerometer."""

import pytest

from boards.virtual import binworld, district
from boards.virtual.errors import VBoardError


def test_a_followed_bin_fills_as_its_district_twin_at_the_chosen_speed():
    follower = binworld.DistrictFollower("1:B0003", now=1000.0)
    twin = district.make_district(4, 1)[3]
    assert (follower.bin.waste_type, follower.bin.lat) == (twin.waste_type, twin.lat)
    start = follower.bin.level
    after_a_day = follower.advance(86400.0, now=1001.0)             # one real second = one day
    assert after_a_day > start + 5
    assert follower.advance(0.0, now=5000.0) == after_a_day         # speed 0: time stands still
    follower.set_level(0.0)                                         # the crew empties it
    assert follower.advance(86400.0, now=5000.5) < after_a_day


def test_a_district_bin_must_be_named_seed_and_id():
    assert binworld.parse_bin("7:B0012") == (7, 12)
    for bad in ("B0012", "x:B1", "1:", "1:Bx"):
        with pytest.raises(VBoardError, match="SEED:ID"):
            binworld.check({"district_bin": bad})


def test_motion_is_a_change_of_gravity_or_shaking():
    flat = {"tilt_deg": 0.0, "tilt_axis": "x", "vibration_g": 0.0}
    assert binworld.moved_g(flat, dict(flat, tilt_deg=90.0)) == pytest.approx(2 ** 0.5)
    assert binworld.moved_g(flat, dict(flat, tilt_deg=2.0)) < 0.064           # under the role's 64 mg
    assert binworld.moved_g(flat, dict(flat, vibration_g=0.5)) == 0.5
