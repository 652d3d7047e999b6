"""The bins registry and its CSV import: every line checked, errors by line number, nothing
half-imported; a device attached gets the bin's depth in its config."""

from binkit import add_bin, admin_headers, bin_device
from fleetkit import bearer, count

CSV = ("id,name,lat,lon,capacity_l,waste_type,depth_mm,threshold_pct,area\n"
       "A1,Market gate,31.2310,121.4720,240,residual,1000,80,Xialu\n"
       "A2,,31.2320,121.4730,1100,recycling,1300,,Xialu\n")


def test_csv_import_adds_every_bin(client, db):
    admin = admin_headers(db)
    r = client.post("/api/v1/bins/import", content=CSV, headers=dict(admin, **{"Content-Type": "text/csv"}))
    assert r.json() == {"imported": 2}
    listed = client.get("/api/v1/bins", headers=admin).json()
    assert [(b["id"], b["threshold_pct"], b["capacity_l"]) for b in listed] == [("A1", 80, 240), ("A2", 80, 1100)]


def test_csv_errors_name_their_lines_and_nothing_is_imported(client, db):
    admin = admin_headers(db)
    bad = CSV + ("A3,,91.0,121.47,240,residual,1000,80,Xialu\n"      # line 4: latitude out of range
                 "A4,,31.23,121.47,240,lava,1000,80,Xialu\n"          # line 5: no such waste type
                 "A1,,31.23,121.47,240,glass,1000,80,Xialu\n"         # line 6: A1 twice
                 "A5,,31.23,,240,glass,-5,80,Xialu\n")                # line 7: lon missing (and depth)
    r = client.post("/api/v1/bins/import", content=bad, headers=dict(admin, **{"Content-Type": "text/csv"}))
    assert r.status_code == 422
    msg = r.json()["error"]["message"]
    for line in ("line 4: lat", "line 5: waste_type", "line 6: bin A1 is already on line 2", "line 7:"):
        assert line in msg, msg
    assert "nothing imported" in msg
    assert count(db, "bins") == 0


def test_csv_header_errors(client, db):
    admin = admin_headers(db)
    r = client.post("/api/v1/bins/import", content="id,colour\nA1,red\n",
                    headers=dict(admin, **{"Content-Type": "text/csv"}))
    msg = r.json()["error"]["message"]
    assert r.status_code == 422 and msg.startswith("line 1: missing columns capacity_l, waste_type, depth_mm")
    assert "unknown column colour" in msg


def test_attached_device_gets_the_depth_and_only_smart_bins_attach(client, db):
    admin = admin_headers(db)
    dev = bin_device(client, db)
    add_bin(client, admin, "B1", device=dev, depth_mm=1250)
    cfg = client.get("/api/v1/devices/" + dev.id, headers=admin).json()["config"]
    assert cfg["bin_depth_mm"] == 1250 and cfg["sample_min"] == 15
    from fleetkit import enroll
    button = enroll(client, db)
    r = client.post("/api/v1/bins", json={"id": "B2", "capacity_l": 240, "waste_type": "glass", "depth_mm": 900,
                                          "device_id": button.id}, headers=admin)
    assert r.status_code == 422 and "not a smart_bin" in r.json()["error"]["message"]
    r = client.post("/api/v1/bins", json={"id": "B3", "capacity_l": 240, "waste_type": "glass", "depth_mm": 900,
                                          "device_id": dev.id}, headers=admin)
    assert r.status_code == 409 and "already measures bin B1" in r.json()["error"]["message"]


def test_caregivers_do_not_see_bins(client, db):
    assert client.get("/api/v1/bins", headers=bearer(db, "caregiver")).status_code == 403
