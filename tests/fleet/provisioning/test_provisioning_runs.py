"""Provisioning runs in the fleet: the technician's tool reports each board; a technician sees
their own runs, the boards still awaiting their first hello (and why), and the failures not
resolved; an admin sees everyone's; bad reports are refused with the field named, storing nothing."""

import time

import devproto

from fleet.core import clock
from fleet.domain import enrollment
from fleetkit import CLI, Device, bearer, count, make_user, credentials_headers


def iso(ts=None):
    return clock.iso(ts)


def run(**kw):
    body = {"started_at": iso(time.time() - 60), "ok": True, "port": "rfc2217://127.0.0.1:4000",
            "mac": "24:0a:c4:00:00:01", "hw_id": "240ac4000001", "role": "call_button", "board": "esp32-devkitc",
            "site": "block-7", "firmware": "micropython v1.29.0", "device_id": "cb-0000000001", "seconds": 41.5,
            "stages": {"connect": 1.2, "write": 22.0, "hello": 3.1}}
    body.update(kw)
    return body


def test_technicians_see_their_own_runs_and_admins_everyones(client, db):
    alice, bob = make_user(db, "technician", "alice"), make_user(db, "technician", "bob")
    a, b = credentials_headers(db, alice), credentials_headers(db, bob)
    r = client.post("/api/v1/provisioning/runs", headers=a, json=run())
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["technician"] == "alice" and mine["ok"] and mine["stages"]["write"] == 22.0
    assert mine["resolved"] and mine["why"] is None
    fail = run(ok=False, mac="24:0a:c4:00:00:02", hw_id="240ac4000002", device_id=None, code="connection_lost",
               stage="write", error="lost the board on rfc2217://127.0.0.1:4001 while write",
               fix="Plug it in again and run the same command: it continues.")
    assert client.post("/api/v1/provisioning/runs", headers=b, json=fail).status_code == 201
    assert [x["technician"] for x in client.get("/api/v1/provisioning/runs", headers=a).json()] == ["alice"]
    bobs = client.get("/api/v1/provisioning/runs", headers=b).json()
    assert [x["code"] for x in bobs] == ["connection_lost"] and bobs[0]["fix"].startswith("Plug it in")
    assert client.get("/api/v1/provisioning/runs/%d" % mine["id"], headers=b).status_code == 404   # not bob's
    admin = bearer(db, "admin")
    assert len(client.get("/api/v1/provisioning/runs", headers=admin).json()) == 2
    assert [x["technician"] for x in client.get("/api/v1/provisioning/runs?technician=bob", headers=admin).json()] == ["bob"]
    assert [x["code"] for x in client.get("/api/v1/provisioning/runs?result=failed", headers=admin).json()] == ["connection_lost"]
    assert client.get("/api/v1/provisioning/summary", headers=b).json() == {"runs": 1, "ok": 0, "failed": 1, "open": 1,
                                                                          "awaiting": 0}
    # the same board provisioned again, successfully: bob's failure is resolved
    again = run(mac="24:0a:c4:00:00:02", hw_id="240ac4000002", device_id="cb-0000000002")
    assert client.post("/api/v1/provisioning/runs", headers=b, json=again).status_code == 201
    assert client.get("/api/v1/provisioning/runs?result=open", headers=b).json() == []
    failed = client.get("/api/v1/provisioning/runs?result=failed", headers=b).json()
    assert len(failed) == 1 and failed[0]["resolved"]


def test_other_roles_can_neither_report_nor_read(client, db):
    care = bearer(db, "caregiver")
    assert client.post("/api/v1/provisioning/runs", headers=care, json=run()).status_code == 403
    assert client.get("/api/v1/provisioning/runs", headers=care).status_code == 403
    assert client.get("/api/v1/provisioning/awaiting").status_code == 401
    assert count(db, "provisioning_runs") == 0


def test_bad_reports_are_refused_with_the_field_named_and_nothing_stored(client, db):
    tech = bearer(db, "technician")
    for bad, field in ((run(wifi_password="s3cret"), "wifi_password"),          # never a secret: unknown field
                       (run(mac="24-0a-c4-00-00-01"), "mac"), (run(role="doorbell"), "role"),
                       (run(seconds=-1), "seconds"), (run(site="x" * 65), "site"), (run(ok="maybe"), "ok"),
                       (run(started_at="yesterday"), "started_at")):
        r = client.post("/api/v1/provisioning/runs", headers=tech, json=bad)
        assert r.status_code == 422, (field, r.text)
        assert field in r.text
    for when in (iso(time.time() + 86400), iso(time.time() - 30 * 86400)):
        r = client.post("/api/v1/provisioning/runs", headers=tech, json=run(started_at=when))
        assert r.status_code == 422 and "started_at" in r.json()["error"]["message"], r.text
    assert count(db, "provisioning_runs") == 0


def test_a_board_awaiting_its_first_hello_says_why_until_it_says_hello(client, db):
    tech_user = make_user(db, "technician", "carol")
    tech = credentials_headers(db, tech_user)
    [(tok, token)] = enrollment.mint_tokens(db, CLI, 3600, 1, role="call_button")
    [(old, _old_token)] = enrollment.mint_tokens(db, CLI, 3600, 1, role="call_button")
    db.conn.execute("UPDATE enrollment_tokens SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = ?", (old["id"],))
    silent = run(ok=False, mac="24:0a:c4:00:00:0a", hw_id="240ac400000a", device_id=None, token_id=tok["id"],
                 stage="hello", code="no_hello", error="no hello from the device 240ac400000a within 120 s")
    late = run(ok=False, mac="24:0a:c4:00:00:0b", hw_id="240ac400000b", device_id=None, token_id=old["id"],
               stage="hello", code="no_hello", error="no hello")
    unplugged = run(ok=False, mac="24:0a:c4:00:00:0c", hw_id="240ac400000c", device_id=None, stage="write",
                    code="connection_lost", error="lost the board")
    for body in (silent, late, unplugged):
        assert client.post("/api/v1/provisioning/runs", headers=tech, json=body).status_code == 201
    waiting = client.get("/api/v1/provisioning/awaiting", headers=tech).json()
    assert {w["hw_id"]: w["why"] for w in waiting} == {"240ac400000a": "token_unused", "240ac400000b": "token_expired"}
    # the first board reaches the fleet at last: it enrolls with its token and says hello
    r = client.post(devproto.PATH_ENROLL, json={"token": token, "hw_id": "240ac400000a", "role": "call_button",
                                                "board": "esp32-devkitc"})
    assert r.status_code == 201, r.text
    waiting = client.get("/api/v1/provisioning/awaiting", headers=tech).json()
    assert {w["hw_id"]: w["why"] for w in waiting}["240ac400000a"] == "enrolled_silent"
    assert Device(client, r.json()["device_id"], r.json()["secret"]).hello().status_code == 200
    waiting = client.get("/api/v1/provisioning/awaiting", headers=tech).json()
    assert [w["hw_id"] for w in waiting] == ["240ac400000b"]
    open_failures = client.get("/api/v1/provisioning/runs?result=open", headers=tech).json()
    assert sorted(f["hw_id"] for f in open_failures) == ["240ac400000b", "240ac400000c"]
    done = client.get("/api/v1/provisioning/runs?result=failed", headers=tech).json()
    first = [f for f in done if f["hw_id"] == "240ac400000a"][0]
    assert first["resolved"] and first["hello_since"] and first["device_id"] == r.json()["device_id"]
