"""Helpers of the smart bin tests: a bin with a signed device, fill events at chosen times."""

import time

from fleetkit import bearer, enroll

ADMIN = None


def fill(seq, pct, t=None, q="ok", **extra):
    return {"seq": seq, "t": int(time.time()) if t is None else t, "type": "fill",
            "data": dict({"q": q, "pct": pct}, **extra)}


def event(seq, etype, t=None, **data):
    return {"seq": seq, "t": int(time.time()) if t is None else t, "type": etype, "data": data}


def add_bin(client, admin, bin_id, lat=31.231, lon=121.472, device=None, **fields):
    body = dict({"id": bin_id, "lat": lat, "lon": lon, "capacity_l": 240, "waste_type": "residual",
                 "depth_mm": 1000, "area": "Xialu"}, **fields)
    if device is not None:
        body["device_id"] = device.id
    r = client.post("/api/v1/bins", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def bin_device(client, db):
    dev = enroll(client, db, role="smart_bin")
    assert dev.hello().status_code == 200
    return dev


def admin_headers(db):
    return bearer(db, "admin")
