"""The asset registry and the public asset page: codes, CRUD, CSV import, /a/<code> for anyone."""

import re

import devproto.assetcode as assetcode
import pytest

from fleetkit import bearer, enroll
from facilitykit import asset


# ---- the public code (devproto.assetcode: shared with provisioning and the firmware) ----------

def test_a_code_is_eight_symbols_with_a_check_symbol_and_survives_how_people_type_it():
    code = assetcode.from_random(bytes([0x12, 0x34, 0x56, 0x78, 0x9A]))
    assert len(code) == 8 and assetcode.is_valid(code)
    assert set(code) <= set(assetcode.ALPHABET) and not set("ILOU") & set(code)
    assert assetcode.label(code) == code[:4] + "-" + code[4:]
    typed = assetcode.label(code).lower().replace("0", "o").replace("1", "l")
    assert assetcode.normalise(" " + typed + " ") == code
    assert assetcode.normalise("ABC") is None and assetcode.normalise("ABCD-EFG!") is None
    assert assetcode.public_url("https://fix.xl.gov/", code) == "https://fix.xl.gov/a/" + code


def test_every_single_wrong_symbol_is_caught_by_the_check_symbol():
    for raw in (b"\x00\x00\x00\x00\x00", b"\xff\xff\xff\xff\xff", b"\x5a\xa5\x3c\xc3\x99"):
        code = assetcode.from_random(raw)
        for i in range(assetcode.LENGTH):
            for c in assetcode.ALPHABET:
                if c != code[i]:
                    assert not assetcode.is_valid(code[:i] + c + code[i + 1:]), (code, i, c)


def test_new_codes_differ():
    assert len({assetcode.new_code() for _ in range(2000)}) == 2000


# ---- registry ------------------------------------------------------------------------------

def test_technician_registers_an_asset_and_gets_a_public_code(client, db):
    tech = bearer(db, "technician")
    made = asset(client, tech)
    assert assetcode.is_valid(made["code"]) and made["label"] == assetcode.label(made["code"])
    assert client.get("/api/v1/assets/by-code/" + made["label"].lower(), headers=tech).json()["id"] == made["id"]
    changed = client.patch("/api/v1/assets/%d" % made["id"], json={"maintainer": "District Works"}, headers=tech)
    assert changed.json()["maintainer"] == "District Works"
    actions = [r[0] for r in db.conn.execute("SELECT action FROM audit WHERE action LIKE 'asset.%' ORDER BY id")]
    assert actions == ["asset.create", "asset.update"]
    assert client.post("/api/v1/assets", json={"type": "bin"}, headers=bearer(db, "caregiver")).status_code == 403


def test_bad_asset_fields_are_refused_with_the_reason(client, db):
    admin = bearer(db, "admin")
    for body, words in (({"type": "tree"}, "type"), ({"type": "bin", "install_date": "2024-13-01"}, "install_date"),
                        ({"type": "bin", "device_id": "cb-nope"}, "no device"),
                        ({"type": "bin", "code": "K7QM-4XPB"}, "not a valid asset code")):
        response = client.post("/api/v1/assets", json=body, headers=admin)
        assert response.status_code in (404, 422), response.text
        assert words in response.text
    assert db.conn.execute("SELECT count(*) FROM assets").fetchone()[0] == 0


def test_a_device_is_attached_to_one_asset_only(client, db):
    admin = bearer(db, "admin")
    beacon = enroll(client, db, role="beacon")
    asset(client, admin, device_id=beacon.id)
    second = client.post("/api/v1/assets", json={"type": "streetlight", "device_id": beacon.id}, headers=admin)
    assert second.status_code == 409 and second.json()["error"]["code"] == "device_attached"


# ---- CSV import --------------------------------------------------------------------------

CSV_OK = ("type,name,lat,lon,address,area,maintainer,install_date\n"
          "streetlight,Lamp 1,30.61,114.31,Xialu Road 1,north,Xialu Lighting Co,2023-03-01\n"
          "manhole_cover,Cover 7,30.62,114.32,\"Xialu Road 7, east side\",north,District Water,2019-08-15\n"
          "bin,,,,,south,,\n")


def test_csv_import_creates_every_asset_with_its_own_code(client, db):
    admin = bearer(db, "admin")
    done = client.post("/api/v1/assets/import", content=CSV_OK.encode(), headers=dict(admin, **{"Content-Type": "text/csv"}))
    assert done.status_code == 200, done.text
    assert done.json()["created"] == 3
    listed = client.get("/api/v1/assets", headers=admin).json()
    assert [a["type"] for a in listed] == ["streetlight", "manhole_cover", "bin"]
    assert listed[1]["address"] == "Xialu Road 7, east side"
    assert len({a["code"] for a in listed}) == 3
    exported = client.get("/api/v1/assets/export.csv", headers=admin).text.splitlines()
    assert exported[0].startswith("code,type,name") and len(exported) == 4


def test_one_bad_line_imports_nothing_and_every_problem_is_named(client, db):
    admin = bearer(db, "admin")
    kept = assetcode.new_code()
    text = ("code,type,name,lat,install_date\n"
            "%s,streetlight,Lamp 1,30.6,2023-03-01\n"
            ",tree,Oak,,\n"
            ",bin,Bin,95,\n"
            "%s,bin,Bin 2,,\n" % (kept, kept))
    refused = client.post("/api/v1/assets/import", content=text.encode(), headers=dict(admin, **{"Content-Type": "text/csv"}))
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "line 3" in message and "line 4" in message and "line 5" in message and "line 2" not in message
    assert db.conn.execute("SELECT count(*) FROM assets").fetchone()[0] == 0
    fixed = "code,type,name\n%s,streetlight,Lamp 1\n" % assetcode.label(kept).lower()
    assert client.post("/api/v1/assets/import", content=fixed.encode(),
                       headers=dict(admin, **{"Content-Type": "text/csv"})).json()["created"] == 1
    assert client.get("/api/v1/assets/by-code/" + kept, headers=admin).status_code == 200     # the printed label's code kept
    for bad in (b"\xff\xfe not utf-8", b"name\nLamp\n", b"type,colour\nbin,red\n"):
        response = client.post("/api/v1/assets/import", content=bad, headers=dict(admin, **{"Content-Type": "text/csv"}))
        assert response.status_code == 422 and response.json()["error"]["code"] == "bad_csv"


# ---- the public page ----------------------------------------------------------------------

def test_public_page_for_anyone_shows_what_it_is_who_maintains_it_and_that_it_works(client, db):
    beacon = enroll(client, db, role="beacon")
    made = asset(client, bearer(db, "admin"), device_id=beacon.id, notes="key in box 3")
    page = client.get("/a/" + made["code"], headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    text = page.text
    assert '<html lang="en">' in text
    assert "Streetlight" in text and made["label"] in text and "Xialu Road 12" in text
    assert "Xialu Lighting Co" in text and re.search(r'id="status">\s*Working', text)
    assert 'action="/open311/v2/requests.json"' in text and 'name="service_code"' in text
    # nothing internal: no device id, no notes, no script at all
    assert beacon.id not in text and "key in box 3" not in text and "<script" not in text
    lower = client.get("/a/" + made["label"].lower())          # as typed from the label
    assert lower.status_code == 200 and made["label"] in lower.text


def test_public_page_speaks_chinese_to_a_chinese_browser(client, db):
    made = asset(client, bearer(db, "admin"), type="manhole_cover")
    text = client.get("/a/" + made["code"], headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert '<html lang="zh-CN">' in text and "井盖" in text and "报告问题" in text and "正常" in text


def test_public_page_and_all_it_loads_stay_under_50_kb(client, db):
    made = asset(client, bearer(db, "admin"))
    page = client.get("/a/" + made["code"])
    loaded = re.findall(r'(?:href|src)="(/[^"]+)"', page.text)
    fetched = [u for u in loaded if not u.startswith(("/language/", "/a/", "/open311/"))]
    assert sorted(fetched) == ["/favicon.ico", "/static/facilities/public.css"]
    total = len(page.content) + sum(len(client.get(u).content) for u in fetched)
    assert total <= 50 * 1024, total
    assert "http://" not in page.text and "https://" not in page.text       # nothing from elsewhere


def test_unknown_or_mistyped_codes_get_a_helpful_page(client, db):
    made = asset(client, bearer(db, "admin"))
    code = made["code"]
    wrong = code[:3] + ("A" if code[3] != "A" else "B") + code[4:]
    typo = client.get("/a/" + wrong, headers={"Accept-Language": "en"})
    assert typo.status_code == 404
    assert "does not look like one of our codes" in typo.text
    assert 'href="/a/%s"' % code in typo.text                              # did you mean...
    unknown = assetcode.new_code()
    page = client.get("/a/" + unknown, headers={"Accept-Language": "en"})
    assert page.status_code == 404 and "no facility has it" in page.text and 'id="find"' in page.text
    found = client.get("/a", params={"code": made["label"].lower()})
    assert found.status_code == 200 and made["label"] in found.text
    junk = client.get("/a/%3Cscript%3Ealert(1)%3C%2Fscript%3E", headers={"Accept-Language": "en"})
    assert junk.status_code == 404 and "<script>alert(1)" not in junk.text and "&lt;script&gt;" in junk.text


@pytest.mark.parametrize("field", ["name", "address", "maintainer"])
def test_script_in_asset_fields_is_shown_as_text(client, db, field):
    made = asset(client, bearer(db, "admin"), **{field: "<script>alert('x')</script><b>bold</b>"})
    text = client.get("/a/" + made["code"]).text
    assert "<script>alert" not in text and "<b>bold" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in text


def test_the_demo_prints_public_urls_that_open_its_assets(client, db, settings):
    from fleet.demo import asset_urls
    text = asset_urls(settings, "http://testserver")
    links = re.findall(r"http://testserver/a/([0-9A-Z]{8})", text)
    assert len(links) == 3 and "Public facilities" in text
    assert asset_urls(settings, "http://testserver").count("/a/") == 3            # seeded once
    for code in links:
        assert client.get("/a/" + code).status_code == 200
