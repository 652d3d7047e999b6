"""Enrollment: single-use expiring tokens, bindings, re-enrollment of the same hardware,
refusals audited (as summaries), secrets shown once and encrypted at rest."""

import json
import time

import devproto
import pytest

from fleet.domain import audit, enrollment
from fleetkit import CLI, count, enroll, heartbeat, mint


def enroll_body(token, **fields):
    return dict({"token": token, "hw_id": "a4cf12345678", "role": "call_button", "board": "esp32-devkitc"}, **fields)


def refused_code(response):
    assert 400 <= response.status_code < 500, response.text
    return response.json()["error"]["code"]


def test_enroll_gives_identity_and_default_config(client, db):
    response = client.post(devproto.PATH_ENROLL, json=enroll_body(mint(db)))
    assert response.status_code == 201
    body = response.json()
    assert body["device_id"].startswith("cb-")
    assert devproto.is_hex(body["secret"], 64, 64)
    assert body["config_version"] == 1 and body["config"] == devproto.default_config()
    assert isinstance(body["time"], float)
    row = db.conn.execute("SELECT hw_id, role, board, status, generation FROM devices").fetchone()
    assert row == ("a4cf12345678", "call_button", "esp32-devkitc", "never_seen", 1)


def test_token_is_single_use(client, db):
    token = mint(db)
    assert client.post(devproto.PATH_ENROLL, json=enroll_body(token)).status_code == 201
    again = client.post(devproto.PATH_ENROLL, json=enroll_body(token, hw_id="a4cf12345679"))
    assert again.status_code == 403 and refused_code(again) == "token_used"
    assert count(db, "devices") == 1


def test_expired_unknown_and_revoked_tokens(client, db):
    [(expired_row, expired)] = enrollment.mint_tokens(db, CLI, 1)
    db.conn.execute("UPDATE enrollment_tokens SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = ?",
                    (expired_row["id"],))
    assert refused_code(client.post(devproto.PATH_ENROLL, json=enroll_body(expired))) == "token_expired"
    assert refused_code(client.post(devproto.PATH_ENROLL, json=enroll_body("et_nonsense"))) == "token_invalid"
    [(revoked_row, revoked)] = enrollment.mint_tokens(db, CLI, 3600)
    enrollment.revoke_token(db, CLI, revoked_row["id"])
    assert refused_code(client.post(devproto.PATH_ENROLL, json=enroll_body(revoked))) == "token_invalid"
    assert count(db, "devices") == 0


@pytest.mark.parametrize("binding, body, ok", [
    ({"role": "smart_bin"}, {"role": "call_button"}, False),
    ({"role": "smart_bin"}, {"role": "smart_bin"}, True),
    ({"board": "esp32-c3-devkitm-1"}, {}, False),
    ({"site": "street-7"}, {"site": "street-8"}, False),
    ({"site": "street-7"}, {}, True),                      # the token's site is given to the device
])
def test_bound_tokens(client, db, binding, body, ok):
    response = client.post(devproto.PATH_ENROLL, json=enroll_body(mint(db, **binding), **body))
    if ok:
        assert response.status_code == 201
        if "site" in binding:
            assert db.conn.execute("SELECT site FROM devices").fetchone()[0] == binding["site"]
    else:
        assert refused_code(response) == "token_mismatch"
        assert count(db, "devices") == 0


def test_refusals_are_audited_as_a_summary_without_the_token(client, db):
    token = mint(db)
    client.post(devproto.PATH_ENROLL, json=enroll_body(token))
    client.post(devproto.PATH_ENROLL, json=enroll_body(token, hw_id="a4cf12345679"))
    client.post(devproto.PATH_ENROLL, json=enroll_body("et_guess"))
    assert audit.entries(db, action="enroll.refused") == []        # no row per refusal...
    client.portal.call(client.app.state.fleet.write_refusals)       # ...one summary per address and period
    [summary] = audit.entries(db, action="enroll.refused")
    assert summary["detail"]["count"] == 2 and summary["detail"]["codes"] == {"token_used": 1, "token_invalid": 1}
    assert summary["detail"]["targets"] == ["a4cf12345679", "a4cf12345678"] and summary["ip"]
    assert "et_guess" not in json.dumps(summary) and token not in json.dumps(summary)


def test_reenrolling_keeps_the_id_with_a_new_secret_and_a_fresh_stream(client, db):
    first = enroll(client, db, hw_id="a4cf00000001")
    assert first.events([heartbeat(1), heartbeat(2)]).json()["ack"] == 2
    second = enroll(client, db, hw_id="a4cf00000001")
    assert second.id == first.id and second.secret != first.secret
    assert first.events([heartbeat(3)]).json()["error"]["code"] == "bad_signature"   # old secret is dead
    # same stream number, new generation: seq 1 is new, not a duplicate of the old seq 1
    assert second.events([heartbeat(1)]).json() | {"down": None, "time": None} == {
        "ack": 1, "stored": 1, "duplicates": 0, "down": None, "time": None}
    assert db.conn.execute("SELECT generation FROM devices").fetchone()[0] == 2
    assert count(db, "events") == 3
    assert [e["action"] for e in audit.entries(db, action="device.reenroll")] == ["device.reenroll"]


def test_secret_is_encrypted_at_rest_and_never_listed(client, db, admin_headers, settings):
    device = enroll(client, db)
    raw = settings.db.read_bytes() + settings.db.with_name("fleet.db-wal").read_bytes()
    assert device.secret.encode() not in raw and bytes.fromhex(device.secret) not in raw
    listed = client.get("/api/v1/devices", headers=admin_headers).text
    detail = client.get("/api/v1/devices/" + device.id, headers=admin_headers).text
    assert device.secret not in listed + detail and "secret" not in listed + detail
    assert settings.key_path.stat().st_mode & 0o777 == 0o600


def test_enrollment_tokens_expire_in_listing(db):
    [(row, _)] = enrollment.mint_tokens(db, CLI, 60, role="beacon")
    assert enrollment.get_token(db, row["id"])["state"] == "valid"
    assert row["expires_at"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 59))
    db.conn.execute("UPDATE enrollment_tokens SET expires_at = '2020-01-01T00:00:00.000Z'")
    assert enrollment.get_token(db, row["id"])["state"] == "expired"
    assert [t["id"] for t in enrollment.list_tokens(db, "expired")] == [row["id"]]
