"""Open311 GeoReport v2 conformance (http://wiki.open311.org/GeoReport_v2): the endpoints, their
fields, status values, filters and defaults, and the error format [{"code", "description"}] - plus
the abuse controls of the public path (rate limits, size limits, photos, duplicates)."""

import hashlib
import io

import pytest
from PIL import Image

from fleetkit import bearer
from facilitykit import asset, gps_exif, jpeg, report

SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
PERSONAL = ("ann@example.org", "Ann", "Li", "13800000000", "phone-imei-1", "acct-9")


def assert_spec_error(response, status, words=""):
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}, body
    assert body[0]["code"] == status and words in body[0]["description"], body


def test_service_list_and_definitions(client):
    listed = client.get("/open311/v2/services.json").json()
    assert {s["service_code"] for s in listed} >= {"light_out", "light_day", "cover_open", "bin_full", "other"}
    for service in listed:
        assert set(service) == SERVICE_FIELDS
        assert service["type"] in ("realtime", "batch", "blackbox") and service["metadata"] in (True, False)
    definition = client.get("/open311/v2/services/cover_open.json").json()
    assert definition == {"service_code": "cover_open", "attributes": []}
    assert_spec_error(client.get("/open311/v2/services/nope.json"), 404, "nope")
    assert_spec_error(client.get("/open311/v2/services.xml"), 404)
    assert_spec_error(client.get("/open311/v2/services/cover_open.xml"), 400, "only JSON")
    assert client.get("/open311/v2/discovery.json").json()["endpoints"][0]["specification"].endswith("GeoReport_v2")


def test_post_get_by_id_and_token_with_the_spec_fields_and_nothing_personal(client, db):
    made = asset(client, bearer(db, "admin"))
    posted = report(client, made["code"], description="Dark since Monday", email=PERSONAL[0], first_name=PERSONAL[1],
                    last_name=PERSONAL[2], phone=PERSONAL[3], device_id=PERSONAL[4], account_id=PERSONAL[5])
    assert posted.status_code == 200, posted.text
    [item] = posted.json()
    assert set(item) == {"service_request_id", "token", "service_notice", "account_id"}
    request_id, token = item["service_request_id"], item["token"]
    [found] = client.get("/open311/v2/requests/%s.json" % request_id).json()
    assert set(found) == REQUEST_FIELDS
    assert found["status"] == "open" and found["service_code"] == "light_out"
    assert found["service_name"] == "Streetlight not working" and found["description"] == "Dark since Monday"
    assert found["address_id"] == made["code"] and found["address"] == "Xialu Road 12"
    assert (found["lat"], found["long"]) == (30.6, 114.3)                  # the asset's position
    assert found["requested_datetime"].endswith("Z") and found["expected_datetime"]
    assert client.get("/open311/v2/tokens/%s.json" % token).json() == [{"service_request_id": request_id,
                                                                        "token": token}]
    everything = client.get("/open311/v2/requests.json").text + client.get("/open311/v2/requests/%s.json"
                                                                           % request_id).text
    for secret in PERSONAL:
        assert secret not in everything
    assert_spec_error(client.get("/open311/v2/requests/999999.json"), 404)
    assert_spec_error(client.get("/open311/v2/tokens/nope.json"), 404)


@pytest.mark.parametrize("fields, words", [
    ({}, "service_code is required"),
    ({"service_code": "graffiti", "lat": "30", "long": "114"}, "service_code"),
    ({"service_code": "light_out"}, "where"),
    ({"service_code": "light_out", "lat": "30"}, "lat and long go together"),
    ({"service_code": "light_out", "lat": "north", "long": "114"}, "lat must be a number"),
    ({"service_code": "light_out", "lat": "91", "long": "114"}, "between -90 and 90"),
    ({"service_code": "light_out", "address_id": "ZZZZZZZZ"}, "not the code of one of our assets"),
    ({"service_code": "light_out", "address_string": "x", "email": "not-an-address"}, "email"),
    ({"service_code": "light_out", "address_string": "x", "description": "d" * 4001}, "at most 4000"),
])
def test_missing_or_invalid_fields_get_the_spec_error(client, db, fields, words):
    response = client.post("/open311/v2/requests.json", data=fields)
    assert_spec_error(response, 400, words)
    assert db.conn.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 0


def test_service_must_fit_the_asset_and_requests_must_be_forms(client, db):
    cover = asset(client, bearer(db, "admin"), type="manhole_cover")
    assert_spec_error(report(client, cover["code"], "light_out"), 400, "does not apply to a manhole_cover")
    assert_spec_error(client.post("/open311/v2/requests.json", json={"service_code": "other"}), 400, "form")
    assert_spec_error(client.put("/open311/v2/requests.json"), 404)


def test_api_keys_of_apps(client, db):
    admin = bearer(db, "admin")
    key = client.post("/api/v1/facilities/open311-keys", json={"name": "city app"}, headers=admin).json()
    assert key["api_key"].startswith("o311_")
    stored = db.conn.execute("SELECT key_hash FROM open311_keys").fetchone()[0]
    assert stored == hashlib.sha256(key["api_key"].encode()).hexdigest()          # only its hash is kept
    made = asset(client, admin)
    ok = report(client, made["code"], api_key=key["api_key"])
    assert ok.status_code == 200
    assert db.conn.execute("SELECT source, app_key_id FROM service_requests").fetchone() == ("app", key["id"])
    assert_spec_error(report(client, made["code"], "light_day", api_key="o311_wrong"), 403, "api_key")
    client.delete("/api/v1/facilities/open311-keys/%d" % key["id"], headers=admin)
    assert_spec_error(report(client, made["code"], "light_day", api_key=key["api_key"]), 403)


def test_search_filters_defaults_and_limits(client, db):
    admin = bearer(db, "admin")
    lamp, cover = asset(client, admin), asset(client, admin, type="manhole_cover", area="south")
    first = report(client, lamp["code"]).json()[0]["service_request_id"]
    second = report(client, cover["code"], "cover_open", description="tilted").json()[0]["service_request_id"]
    third = report(client, None, "other", address_string="Xialu Square").json()[0]["service_request_id"]
    db.conn.execute("UPDATE service_requests SET requested_at = '2020-01-02T00:00:00.000Z' WHERE id = ?", (third,))

    ids = lambda response: [r["service_request_id"] for r in response.json()]  # noqa: E731
    assert ids(client.get("/open311/v2/requests.json")) == [second, first]      # last 90 days, newest first
    assert ids(client.get("/open311/v2/requests.json", params={"service_code": "cover_open"})) == [second]
    assert ids(client.get("/open311/v2/requests.json", params={"service_request_id": "%s,%s" % (third, first)})) \
        == [third, first]                                                       # ids override the date window
    assert ids(client.get("/open311/v2/requests.json", params={"start_date": "2019-12-01T00:00:00Z",
                                                                "end_date": "2020-02-01T00:00:00Z"})) == [third]
    assert ids(client.get("/open311/v2/requests.json", params={"start_date": "2019-12-01"})) == [third]   # +90 days
    assert ids(client.get("/open311/v2/requests.json", params={"status": "closed"})) == []
    assert ids(client.get("/open311/v2/requests.json", params={"status": "open,closed"})) == [second, first]
    for params, words in (({"status": "done"}, "status"), ({"start_date": "yesterday"}, "start_date"),
                          ({"start_date": "2020-02-01", "end_date": "2020-01-01"}, "after"),
                          ({"service_request_id": "1,x"}, "service_request_id")):
        assert_spec_error(client.get("/open311/v2/requests.json", params=params), 400, words)


def test_at_most_1000_results(client, db):
    from fleet.core import clock
    now = clock.iso()
    db.conn.executemany("INSERT INTO service_requests (token, service_code, source, requested_at, updated_at) "
                        "VALUES (?, 'other', 'app', ?, ?)", [("t%d" % i, now, now) for i in range(1005)])
    assert len(client.get("/open311/v2/requests.json").json()) == 1000


def test_status_follows_the_work_order_with_finer_states_in_status_notes(client, db):
    admin = bearer(db, "admin")
    made = asset(client, admin)
    request_id = report(client, made["code"]).json()[0]["service_request_id"]
    wo_id = db.conn.execute("SELECT work_order_id FROM service_requests WHERE id = ?", (request_id,)).fetchone()[0]
    get = lambda: client.get("/open311/v2/requests/%s.json" % request_id).json()[0]  # noqa: E731
    assert (get()["status"], get()["status_notes"]) == ("open", "Received; waiting for a team.")
    client.post("/api/v1/workorders/%d/actions" % wo_id, json={"action": "start"}, headers=admin)
    assert (get()["status"], get()["status_notes"]) == ("open", "Being repaired.")
    client.post("/api/v1/workorders/%d/actions" % wo_id, json={"action": "resolve", "note": "New lamp fitted"},
                headers=admin)
    assert (get()["status"], get()["status_notes"]) == ("closed", "Repaired: New lamp fitted")
    assert get()["expected_datetime"] is None


# ---- abuse -----------------------------------------------------------------------------------

def test_a_flood_from_one_address_is_limited_but_other_addresses_are_not(client, db, settings):
    made = asset(client, bearer(db, "admin"))
    service = client.app.state.fleet.services["facilities"]
    service.limit.burst, service.limit.rate = 3.0, 0.0
    codes = [report(client, None, "other", address_string="spot %d" % i).status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = report(client, made["code"], "light_day")
    assert_spec_error(refused, 429, "too many reports")
    assert int(refused.headers["Retry-After"]) >= 1
    assert db.conn.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 3


def test_oversized_bodies_are_refused_before_they_are_read(client, db):
    made = asset(client, bearer(db, "admin"))
    huge = b"\xff\xd8" + b"0" * (6 * 1024 * 1024)
    response = report(client, made["code"], files={"media": ("big.jpg", huge, "image/jpeg")})
    assert_spec_error(response, 413)
    assert db.conn.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 0


@pytest.mark.parametrize("name, data, kind, words", [
    ("evil.jpg", b"<script>alert(1)</script>", "image/jpeg", "not a readable"),
    ("doc.pdf", b"%PDF-1.4 ...", "application/pdf", "JPEG, PNG or WebP"),
    ("fake.png", None, "image/png", "not a readable"),         # a real JPEG sent as PNG
])
def test_fake_images_are_refused_and_nothing_is_stored(client, db, name, data, kind, words):
    made = asset(client, bearer(db, "admin"))
    response = report(client, made["code"], files={"media": (name, data or jpeg(), kind)})
    assert_spec_error(response, 400, words)
    assert db.conn.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 0


def test_a_photo_is_re_encoded_without_its_gps_position(client, db):
    made = asset(client, bearer(db, "admin"))
    original = jpeg(4000, 3000, exif=gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)              # the phone's photo has GPS
    response = report(client, made["code"], files={"media": ("p.jpg", original, "image/jpeg")})
    assert response.status_code == 200, response.text
    photo_id = db.conn.execute("SELECT photo_id FROM service_requests").fetchone()[0]
    stored = db.conn.execute("SELECT image FROM facility_photos WHERE id = ?", (photo_id,)).fetchone()[0]
    kept = Image.open(io.BytesIO(stored))
    assert kept.format == "JPEG" and max(kept.size) == 1600
    assert not kept.getexif() and b"SERIAL-1234" not in stored and b"Exif" not in stored[:200]
    tech = bearer(db, "technician")
    assert client.get("/api/v1/facilities/photos/%d" % photo_id, headers=tech).content == stored
    assert client.get("/api/v1/facilities/photos/%d" % photo_id).status_code == 401      # never public


def test_reports_of_one_asset_are_grouped_into_one_work_order(client, db):
    made = asset(client, bearer(db, "admin"))
    first = report(client, made["code"]).json()[0]
    again = report(client, made["code"]).json()[0]                              # same sender, same problem
    assert again["service_request_id"] == first["service_request_id"] and "already" in again["service_notice"]
    other = report(client, made["code"], "pole_damaged").json()[0]              # a different problem joins
    assert other["service_request_id"] != first["service_request_id"]
    assert "already reported" in other["service_notice"]
    assert db.conn.execute("SELECT count(*) FROM work_orders").fetchone()[0] == 1
    assert db.conn.execute("SELECT count(DISTINCT work_order_id) FROM service_requests").fetchone()[0] == 1
    history = [r[0] for r in db.conn.execute("SELECT action FROM work_order_events ORDER BY id")]
    assert history == ["opened", "joined"]
