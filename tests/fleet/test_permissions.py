"""Who may call what: every admin endpoint, every role, from one table written here (not
imported from the code, so a wrong permission in the code fails this test)."""

import devproto
import pytest

from fleet.domain import credentials, enrollment
from fleet.main import create_app
from fleetkit import CLI, enroll, make_user

ALL = {"admin", "caregiver", "technician"}
STAFF = {"admin", "technician"}
ADMIN = {"admin"}
CARE = {"admin", "caregiver"}

# (method, path, allowed roles, json body). {device}, {user}, {token}, {etoken} are filled per test.
ENDPOINTS = [
    ("GET", "/api/v1/users", ADMIN, None),
    ("POST", "/api/v1/users", ADMIN, {"username": "newbie{n}", "role": "caregiver", "password": "long enough pw"}),
    ("GET", "/api/v1/users/{user}", ADMIN, None),
    ("PATCH", "/api/v1/users/{user}", ADMIN, {"role": "technician"}),
    ("PUT", "/api/v1/users/{user}/password", ADMIN, {"password": "another long one"}),
    ("GET", "/api/v1/tokens", STAFF, None),
    ("POST", "/api/v1/tokens", STAFF, {"name": "laptop"}),
    ("DELETE", "/api/v1/tokens/{token}", STAFF, None),
    ("GET", "/api/v1/enrollment-tokens", STAFF, None),
    ("POST", "/api/v1/enrollment-tokens", STAFF, {"count": 2, "role": "smart_bin", "expires_in_s": 600}),
    ("DELETE", "/api/v1/enrollment-tokens/{etoken}", STAFF, None),
    ("GET", "/api/v1/devices", ALL, None),
    ("GET", "/api/v1/devices/{device}", ALL, None),
    ("GET", "/api/v1/devices/{device}/events", STAFF, None),
    ("PUT", "/api/v1/devices/{device}/config", STAFF, {"heartbeat_min": 30}),
    ("GET", "/api/v1/devices/{device}/commands", STAFF, None),
    ("POST", "/api/v1/devices/{device}/commands", STAFF, {"name": "identify"}),
    ("POST", "/api/v1/devices/{device}/revoke", ADMIN, None),
    ("POST", "/api/v1/devices/{device}/rotate-secret", ADMIN, None),
    ("GET", "/api/v1/live/devices", ALL, None),            # allowed roles: see test_live.py (it streams)
    ("GET", "/api/v1/audit", ADMIN, None),
    ("GET", "/api/v1/export/devices.csv", ADMIN, None),
    ("GET", "/api/v1/export/events.csv", ADMIN, None),
    ("GET", "/api/v1/auth/me", ALL, None),
    # alarms, residents (never technicians), webhooks and escalation
    ("GET", "/api/v1/alarms", CARE, None),
    ("GET", "/api/v1/alarms/{alarm}", CARE, None),
    ("POST", "/api/v1/alarms/{alarm}/acknowledge", CARE, None),
    ("POST", "/api/v1/alarms/{alarm}/resolve", CARE, {"note": "checked"}),
    ("GET", "/api/v1/live/alarms", CARE, None),
    ("GET", "/api/v1/residents", CARE, None),
    ("POST", "/api/v1/residents", CARE, {"name": "Resident {n}"}),
    ("GET", "/api/v1/residents/{resident}", CARE, None),
    ("PATCH", "/api/v1/residents/{resident}", CARE, {"room": "1{n}"}),
    ("DELETE", "/api/v1/residents/{resident}", CARE, None),
    ("PUT", "/api/v1/residents/{resident}/devices/{device}", CARE, None),
    ("DELETE", "/api/v1/residents/{resident}/devices/{device}", CARE, None),
    ("GET", "/api/v1/webhooks", ADMIN, None),
    ("POST", "/api/v1/webhooks", ADMIN, {"url": "http://127.0.0.1:9/hook"}),
    ("GET", "/api/v1/webhooks/{webhook}", ADMIN, None),
    ("PATCH", "/api/v1/webhooks/{webhook}", ADMIN, {"enabled": False}),
    ("DELETE", "/api/v1/webhooks/{webhook}", ADMIN, None),
    ("POST", "/api/v1/webhooks/{webhook}/rotate-secret", ADMIN, None),
    ("POST", "/api/v1/webhooks/{webhook}/test", ADMIN, None),
    ("GET", "/api/v1/webhooks/{webhook}/deliveries", ADMIN, None),
    ("GET", "/api/v1/escalation-policies", CARE, None),
    ("GET", "/api/v1/escalation-policies/{site}", CARE, None),
    ("PUT", "/api/v1/escalation-policies/{site}", ADMIN, {"stages": [{"after_s": 30, "group": "backup"}]}),
    ("DELETE", "/api/v1/escalation-policies/{site}", ADMIN, None),
    # OTA: technicians follow, admins release and roll out (bodies made by ota_request)
    ("GET", "/api/v1/ota/keys", STAFF, None),
    ("POST", "/api/v1/ota/keys", ADMIN, "KEY"),
    ("GET", "/api/v1/ota/releases", STAFF, None),
    ("POST", "/api/v1/ota/releases", ADMIN, "UPLOAD"),
    ("GET", "/api/v1/ota/releases/{release}", STAFF, None),
    ("GET", "/api/v1/ota/rollouts", STAFF, None),
    ("POST", "/api/v1/ota/rollouts", ADMIN, "ROLLOUT"),
    ("GET", "/api/v1/ota/rollouts/{rollout}", STAFF, None),
    ("POST", "/api/v1/ota/rollouts/{rollout}/pause", ADMIN, None),
    ("GET", "/api/v1/live/ota", STAFF, None),
]
PUBLIC = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/logout"), ("GET", "/api/v1/health")}
STREAMING = {"/api/v1/live/devices", "/api/v1/live/alarms", "/api/v1/live/ota"}


def route_keys():
    paths = create_app().openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops
            if path.startswith("/api/v1") and not path.startswith(devproto.PREFIX + "/")}


def template(path):
    return (path.replace("{device}", "{device_id}").replace("{user}", "{user_id}")
            .replace("{token}", "{token_id}").replace("{etoken}", "{token_id}").replace("devices.csv", "{kind}.csv")
            .replace("events.csv", "{kind}.csv").replace("{alarm}", "{alarm_id}").replace("{resident}", "{resident_id}")
            .replace("{webhook}", "{webhook_id}").replace("{release}", "{release_id}")
            .replace("{rollout}", "{rollout_id}").replace("/pause", "/{action}"))


def test_every_admin_endpoint_is_in_the_table():
    tabled = {(m, template(p)) for m, p, _, _ in ENDPOINTS} | PUBLIC
    assert route_keys() == tabled


@pytest.fixture
def people(db):
    """role -> (headers, user id, id of one of the user's own API tokens)"""
    out = {}
    for role in sorted(ALL):
        user = make_user(db, role)
        token_row, token = credentials.create_token(db, CLI, user["id"], "main")
        spare, _ = credentials.create_token(db, CLI, user["id"], "spare")
        out[role] = ({"Authorization": "Bearer " + token}, user["id"], spare["id"])
    return out


def fill(path, device, user_id, token_id, etoken_id, n, alarm_id=1, resident_id=1, webhook_id=1):
    return (path.replace("{device}", device).replace("{user}", str(user_id)).replace("{token}", str(token_id))
            .replace("{etoken}", str(etoken_id)).replace("{alarm}", str(alarm_id))
            .replace("{resident}", str(resident_id)).replace("{webhook}", str(webhook_id))
            .replace("{site}", "Block 9"))


def alarm_pieces(client, db, device, n):
    """(alarm id, resident id, webhook id) made for one role's turn: a fresh alarm of device, a
    resident (with the device assigned, so unassigning works), a webhook, a site policy."""
    import time
    from fleet.core.security import SecretBox
    from fleet.care import escalation, residents
    from fleet.domain import webhooks
    device.events([{"seq": 1, "t": int(time.time()), "type": "alarm", "data": {"ref": "a-%d" % n}}])
    alarm_id = db.conn.execute("SELECT id FROM alarms WHERE device_id = ?", (device.id,)).fetchone()[0]
    resident = residents.create_resident(db, CLI, "Resident %d" % n)
    residents.assign(db, CLI, resident["id"], device.id)
    hook, _ = webhooks.create_webhook(db, SecretBox.from_file(client.app.state.fleet.settings.key_path), CLI,
                                      "http://127.0.0.1:9/hook")
    escalation.set_policy(db, CLI, "Block 9", [{"after_s": 60, "group": "backup"}])
    return alarm_id, resident["id"], hook["id"]


@pytest.fixture(scope="module")
def release_key(tmp_path_factory):
    from fleet.ota import signing
    folder = tmp_path_factory.mktemp("release-key")
    kid = signing.generate(folder)
    return folder / (kid + ".pem"), (folder / (kid + ".pub.pem")).read_bytes(), folder


def ota_request(client, db, key, path, body, n):
    """(url, json, files) for an OTA endpoint in one role's turn: a fresh signed release, trusted,
    and a fresh rollout of it (so each role pauses one that runs)."""
    from boards import espimage
    from fleet.ota import releases, rollouts
    private, pem, folder = key
    settings = client.app.state.fleet.settings
    import tempfile
    from pathlib import Path
    turn = Path(tempfile.mkdtemp(dir=folder))
    (turn / "fw.bin").write_bytes(espimage.stand_in("3.%d.%d" % (len(path), n), size=4096))
    releases.trust_key(db, CLI, pem)
    releases.build(turn / "r", "firmware", "3.%d.%d" % (len(path), n), 0, ["*"], ["*"], 3600, image=turn / "fw.bin")
    releases.sign(turn / "r", private)
    if body == "UPLOAD":
        files = {"envelope": (turn / "r" / "manifest.signed.json").read_bytes(),
                 "artifact": (turn / "r" / "artifact.bin").read_bytes()}
        return path, None, files
    rel = releases.upload_folder(db, settings, CLI, turn / "r")
    if body == "KEY":
        return path, {"pem": pem.decode()}, None
    if body == "ROLLOUT":
        return path, {"release_id": rel["id"]}, None
    r = rollouts.create(db, CLI, rel["id"])
    return path.replace("{release}", rel["id"]).replace("{rollout}", str(r["id"])), None, None


@pytest.mark.parametrize("method, path, allowed, body", ENDPOINTS, ids=["%s %s" % e[:2] for e in ENDPOINTS])
def test_roles(client, db, people, method, path, allowed, body, request):
    victim = make_user(db, "caregiver")
    for n, role in enumerate(sorted(ALL)):
        headers, user_id, own_token = people[role]
        device = enroll(client, db)
        [(etoken, _)] = enrollment.mint_tokens(db, CLI, 600)
        url = fill(path, device.id, victim["id"], own_token, etoken["id"], n, *alarm_pieces(client, db, device, n))
        files = None
        if "/ota" in path:
            url, payload, files = ota_request(client, db, request.getfixturevalue("release_key"), path, body, n)
        else:
            payload = None if body is None else {k: (v.format(n=n) if isinstance(v, str) else v) for k, v in body.items()}
        if role in allowed and path in STREAMING:
            continue
        response = client.request(method, url, json=payload, files=files, headers=headers)
        if role in allowed:
            assert response.status_code < 400, (role, response.status_code, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert response.json()["error"]["code"] == "forbidden"
    anonymous = client.request(method, fill(path, "cb-x", 1, 1, 1, 0).replace("{release}", "x").replace("{rollout}", "1"),
                               json=body if isinstance(body, dict) else None)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"


def test_technicians_cannot_touch_other_peoples_tokens(client, people):
    tech_headers = people["technician"][0]
    admin_token = people["admin"][2]
    response = client.delete("/api/v1/tokens/%d" % admin_token, headers=tech_headers)
    assert response.status_code == 403
    listed = client.get("/api/v1/tokens", headers=tech_headers).json()
    assert {t["user_id"] for t in listed} == {people["technician"][1]}
    assert len(client.get("/api/v1/tokens", headers=people["admin"][0]).json()) == 6


def test_revoked_token_and_disabled_user_lose_access(client, db, people):
    headers, user_id, _ = people["technician"]
    assert client.get("/api/v1/devices", headers=headers).status_code == 200
    client.patch("/api/v1/users/%d" % user_id, json={"disabled": True}, headers=people["admin"][0])
    assert client.get("/api/v1/devices", headers=headers).status_code == 401
    admin_headers, admin_id, spare = people["admin"]
    client.delete("/api/v1/tokens/%d" % spare, headers=admin_headers)
    assert client.get("/api/v1/tokens", headers=admin_headers).status_code == 200   # the main token still works
