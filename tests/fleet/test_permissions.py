"""Who may call what: every admin endpoint, every role, from one table written here (not
imported from the code, so a wrong permission in the code fails this test)."""

import tempfile
from pathlib import Path

import devproto
import pytest

from fleet.core.config import Settings
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
    ("PUT", "/api/v1/devices/{device}/tags", STAFF, {"tags": ["floor-3", "pilot"]}),
    ("PUT", "/api/v1/devices/{device}/tags/{tag}", STAFF, None),
    ("DELETE", "/api/v1/devices/{device}/tags/{tag}", STAFF, None),
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
    ("GET", "/api/v1/webhooks/events", ADMIN, None),
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
    # smart bins: technicians (crews) read bins and routes and mark stops; admins keep the registry
    ("GET", "/api/v1/bins", STAFF, None),
    ("POST", "/api/v1/bins", ADMIN, {"id": "NB{n}", "capacity_l": 240, "waste_type": "glass", "depth_mm": 900}),
    ("POST", "/api/v1/bins/import", ADMIN, "id,capacity_l,waste_type,depth_mm\nCB{n},240,glass,900\n"),
    ("GET", "/api/v1/bins/maintenance", STAFF, None),
    ("GET", "/api/v1/bins/ngsi-ld", STAFF, None),
    ("GET", "/api/v1/bins/{bin}", STAFF, None),
    ("PUT", "/api/v1/bins/{bin}", ADMIN, {"id": "{bin}", "capacity_l": 360, "waste_type": "glass", "depth_mm": 900}),
    ("DELETE", "/api/v1/bins/{bin}", ADMIN, None),
    ("POST", "/api/v1/waste/plans", STAFF, {"trucks": 1}),
    ("GET", "/api/v1/waste/plans/latest", STAFF, None),
    ("GET", "/api/v1/waste/plans/{plan}", STAFF, None),
    ("GET", "/api/v1/waste/plans/{plan}/route.csv", STAFF, None),
    ("GET", "/api/v1/waste/plans/{plan}/route.gpx", STAFF, None),
    ("POST", "/api/v1/waste/stops/{stop}", STAFF, {"state": "collected"}),
    # facilities: technicians keep assets and repair; admins run teams, routing, app keys, tracking
    ("GET", "/api/v1/assets", STAFF, None),
    ("POST", "/api/v1/assets", STAFF, {"type": "streetlight", "name": "Lamp {n}"}),
    ("POST", "/api/v1/assets/import", STAFF, None),
    ("GET", "/api/v1/assets/export.csv", STAFF, None),
    ("GET", "/api/v1/assets/by-code/{code}", STAFF, None),
    ("GET", "/api/v1/assets/{asset}", STAFF, None),
    ("PATCH", "/api/v1/assets/{asset}", STAFF, {"area": "north"}),
    ("DELETE", "/api/v1/assets/{spare_asset}", STAFF, None),
    ("POST", "/api/v1/assets/{asset}/photos", STAFF, None),
    ("GET", "/api/v1/facilities/photos/{photo}", STAFF, None),
    ("GET", "/api/v1/workorders", STAFF, None),
    ("GET", "/api/v1/workorders/{wo}", STAFF, None),
    ("POST", "/api/v1/workorders/{wo}/actions", STAFF, {"action": "note", "note": "looked at it"}),
    ("GET", "/api/v1/facilities/teams", STAFF, None),
    ("PUT", "/api/v1/facilities/teams/{team}", ADMIN, {"members": []}),
    ("GET", "/api/v1/facilities/routes", STAFF, None),
    ("PUT", "/api/v1/facilities/routes", ADMIN, {"asset_type": "bin", "area": "*", "team": "crew"}),
    ("GET", "/api/v1/facilities/tracking", ADMIN, None),
    ("GET", "/api/v1/facilities/tracking.csv", ADMIN, None),
    ("GET", "/api/v1/facilities/overdue", ADMIN, None),
    ("GET", "/api/v1/facilities/open311-keys", ADMIN, None),
    ("POST", "/api/v1/facilities/open311-keys", ADMIN, {"name": "app {n}"}),
    ("DELETE", "/api/v1/facilities/open311-keys/{key}", ADMIN, None),
    ("POST", "/api/v1/provisioning/runs", STAFF, {"ok": True, "mac": "24:0a:c4:00:00:{n:02d}"}),
    ("GET", "/api/v1/provisioning/runs", STAFF, None),
    ("GET", "/api/v1/provisioning/runs/{run}", STAFF, None),
    ("GET", "/api/v1/provisioning/awaiting", STAFF, None),
    ("GET", "/api/v1/provisioning/summary", STAFF, None),
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
# Bodies that are not JSON: (content type, bytes).
RAW_BODIES = {("POST", "/api/v1/assets/import"): ("text/csv", b"type,name\nbin,Bin A\n"),
              ("POST", "/api/v1/assets/{asset}/photos"): ("image/png", None)}
PUBLIC = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/logout"), ("GET", "/api/v1/health")}
STREAMING = {"/api/v1/live/devices", "/api/v1/live/alarms", "/api/v1/live/ota"}


def route_keys():
    # an app on a database of its own, never the checkout's var/
    with tempfile.TemporaryDirectory(prefix="fleet-routes-") as scratch:
        paths = create_app(Settings.from_env(db=Path(scratch) / "fleet.db")).openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops
            if path.startswith("/api/v1") and not path.startswith(devproto.PREFIX + "/")}


def template(path):
    return (path.replace("{device}", "{device_id}").replace("{user}", "{user_id}")
            .replace("{token}", "{token_id}").replace("{etoken}", "{token_id}").replace("devices.csv", "{kind}.csv")
            .replace("events.csv", "{kind}.csv").replace("{alarm}", "{alarm_id}").replace("{resident}", "{resident_id}")
            .replace("{webhook}", "{webhook_id}").replace("{bin}", "{bin_id}").replace("{plan}", "{plan_id}")
            .replace("{stop}", "{stop_id}").replace("{asset}", "{asset_id}")
            .replace("{spare_asset}", "{asset_id}").replace("{wo}", "{wo_id}").replace("{photo}", "{photo_id}")
            .replace("{key}", "{key_id}").replace("{code}", "{code}").replace("{team}", "{name}")
            .replace("{release}", "{release_id}").replace("{rollout}", "{rollout_id}").replace("/pause", "/{action}")
            .replace("{run}", "{run_id}"))


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
            .replace("{site}", "Block 9").replace("{tag}", "pilot"))


def waste_pieces(db, n):
    """A bin B<n> with a plan holding one stop: (bin id, plan id, stop id)."""
    from fleet.waste import bins
    bins.save(db, CLI, {"id": "B%d" % n, "lat": 31.23, "lon": 121.47, "capacity_l": 240, "waste_type": "glass",
                        "depth_mm": 900})
    with db.conn:
        plan = db.conn.execute("INSERT INTO waste_plans (created_at, created_by, shift_start, shift_end, status, "
                               "summary) VALUES ('2026-12-01T00:00:00.000Z', 'cli', 0, 28800, 'ok', "
                               "'{\"trucks\": 1, \"left\": []}')").lastrowid
        stop = db.conn.execute("INSERT INTO waste_stops (plan_id, truck, seq, bin_id, eta, state) VALUES "
                               "(?, 1, 1, ?, 0, 'planned')", (plan, "B%d" % n)).lastrowid
    return "B%d" % n, plan, stop


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


def provisioning_run(db, role, user_id):
    """The id of a provisioning run reported by this role's user (technicians read only their own)."""
    from fleet.domain.users import Principal
    from fleet.provisioning import runs
    return runs.record(db, Principal("token", "user-" + role, role, user_id), {"ok": True})["id"]


def png():
    import io
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def facility_pieces(db, people, n):
    """{placeholder: value} for one role's turn: an asset with a photo and an open work order routed
    to the technicians' crew (a technician acts on their own team's orders), a spare asset, an
    Open311 key."""
    import hashlib
    from fleet.facilities import assets, workorders
    from fleet.store.db import write_tx
    with write_tx(db):
        tx = workorders.LocalTx(db)
        members = [u for u, in db.conn.execute("SELECT username FROM users WHERE role = 'technician'")]
        workorders.save_team(tx, CLI, "crew", None, None, members)
        workorders.set_route(tx, CLI, "*", "*", "crew")
    made = assets.create_asset(db, CLI, {"type": "streetlight", "name": "Lamp %d" % n})
    spare = assets.create_asset(db, CLI, {"type": "bin"})
    photo = assets.add_photo(db, CLI, made["id"], png(), "image/png")
    with write_tx(db):
        wo_id, _ = workorders.open_or_join(workorders.LocalTx(db), (made["id"], "streetlight", None), "light_out",
                                           "report", {})
        key_id = db.conn.execute("INSERT INTO open311_keys (name, key_hash, prefix, created_at) VALUES (?, ?, 'o', 'x')",
                                 ("k%d" % n, hashlib.sha256(b"k%d" % n).hexdigest())).lastrowid
    return {"{asset}": made["id"], "{spare_asset}": spare["id"], "{wo}": wo_id, "{photo}": photo, "{key}": key_id,
            "{code}": made["code"], "{team}": "crew"}


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
        if "/ota" in path:
            url, payload, files = ota_request(client, db, request.getfixturevalue("release_key"), path, body, n)
            if role in allowed and path in STREAMING:
                continue
            response = client.request(method, url, json=payload, files=files, headers=headers)
        else:
            for placeholder, value in facility_pieces(db, people, n).items():
                url = url.replace(placeholder, str(value))
            url = url.replace("{run}", str(provisioning_run(db, role, user_id)))
            bin_id, plan_id, stop_id = waste_pieces(db, n)
            url = url.replace("{bin}", bin_id).replace("{plan}", str(plan_id)).replace("{stop}", str(stop_id))
            if isinstance(body, str):                       # a CSV upload
                response = client.request(method, url, content=body.format(n=n), headers=dict(
                    headers, **{"Content-Type": "text/csv"}))
                assert (response.status_code < 400) == (role in allowed), (role, response.status_code, response.text)
                continue
            payload = None if body is None else {k: (v.format(n=n, bin=bin_id) if isinstance(v, str) else v)
                                                 for k, v in body.items()}
            if role in allowed and path in STREAMING:
                continue
            if (method, path) in RAW_BODIES:
                kind, raw = RAW_BODIES[(method, path)]
                response = client.request(method, url, content=raw or png(), headers=dict(headers, **{"Content-Type": kind}))
            else:
                response = client.request(method, url, json=payload, headers=headers)
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
