"""down.beacon: what a facility beacon learns of its asset (devproto/beacon.py)."""

import pytest

import devproto.beacon as beacon
import devproto.eddystone as eddystone

from fleet.core.config import Settings
from fleetkit import bearer, enroll
from facilitykit import asset


@pytest.fixture
def settings(tmp_path):
    return Settings(db=tmp_path / "fleet.db", status_interval_s=0.05, public_url="https://xl.gov")


def test_a_beacon_learns_its_assets_url_id_and_site_when_attached(client, db):
    device = enroll(client, db, role="beacon")
    assert device.hello().json()["down"]["beacon"] is None              # not attached yet
    admin = bearer(db, "admin")
    made = asset(client, admin, type="manhole_cover", device_id=device.id, lat=30.61234, lon=114.30567)
    down = device.hello().json()["down"]
    assert down["beacon"] == {"type": "manhole_cover", "uid": made["id"], "url": "https://xl.gov/a/" + made["code"],
                              "lat_e4": 306123, "lon_e4": 1143057}
    assert beacon.check_beacon(down["beacon"]) == down["beacon"]        # all of it valid for the device
    assert len(eddystone.encode_url(down["beacon"]["url"])) - 1 <= 17
    cursor = down["cursor"]
    client.patch("/api/v1/assets/%d" % made["id"], json={"device_id": None}, headers=admin)
    after = device.hello().json()["down"]
    assert after["cursor"] > cursor and after["beacon"] is None
    call_button = enroll(client, db)
    assert "beacon" not in call_button.hello().json()["down"]          # other roles: not at all


def test_an_asset_sets_its_beacons_thresholds_and_schedule_within_range(client, db):
    device = enroll(client, db, role="beacon")
    admin = bearer(db, "admin")
    made = asset(client, admin, device_id=device.id, beacon={"lamp_debounce_s": 60, "lamp_on_min": 1080})
    got = device.hello().json()["down"]["beacon"]
    assert got["lamp_debounce_s"] == 60 and got["lamp_on_min"] == 1080 and got["type"] == "streetlight"
    for bad in ({"lamp_debounce_s": 5}, {"url": 3}, {"tilt_deg": True}):
        response = client.patch("/api/v1/assets/%d" % made["id"], json={"beacon": bad}, headers=admin)
        assert response.status_code == 422, (bad, response.text)
    assert client.get("/api/v1/assets/%d" % made["id"], headers=admin).json()["beacon"] == {
        "lamp_debounce_s": 60, "lamp_on_min": 1080}
