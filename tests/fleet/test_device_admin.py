"""What admins do to devices: revoke, rotate the secret, push config, send commands."""

import devproto

from fleet.domain import audit
from fleetkit import HELLO, enroll, heartbeat


def test_revoke_refuses_the_device_and_is_audited(client, device, db, admin_headers):
    assert device.hello().status_code == 200
    response = client.post("/api/v1/devices/%s/revoke" % device.id, json={"reason": "stolen"}, headers=admin_headers)
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert device.hello().json()["error"]["code"] == "revoked"
    assert client.post("/api/v1/devices/%s/revoke" % device.id, headers=admin_headers).status_code == 409
    [entry] = audit.entries(db, action="device.revoke")
    assert entry["target"] == device.id and entry["detail"] == {"reason": "stolen"} and entry["actor"].startswith("token:")


def test_revoked_hardware_can_be_enrolled_again(client, device, db, admin_headers):
    hw_id = db.conn.execute("SELECT hw_id FROM devices").fetchone()[0]
    client.post("/api/v1/devices/%s/revoke" % device.id, headers=admin_headers)
    again = enroll(client, db, hw_id=hw_id)
    assert again.id == device.id and again.hello().status_code == 200


def test_rotate_returns_a_new_secret_once(client, device, admin_headers):
    response = client.post("/api/v1/devices/%s/rotate-secret" % device.id, headers=admin_headers)
    assert response.status_code == 200
    new_secret = response.json()["secret"]
    assert new_secret != device.secret and devproto.is_hex(new_secret, 64, 64)
    assert device.hello().json()["error"]["code"] == "bad_signature"
    assert device.request("POST", devproto.PATH_HELLO, HELLO, secret=new_secret).status_code == 200
    assert new_secret not in client.get("/api/v1/devices/" + device.id, headers=admin_headers).text


def test_config_push_rides_on_down(client, device, admin_headers):
    down = device.hello(cv=1).json()["down"]
    assert "config" not in down and down["config_version"] == 1
    response = client.put("/api/v1/devices/%s/config" % device.id, json={"heartbeat_min": 60}, headers=admin_headers)
    assert response.status_code == 200 and response.json()["config_version"] == 2
    down = device.hello(cv=1).json()["down"]
    assert down["config_version"] == 2 and down["cursor"] == 2
    assert down["config"] == dict(devproto.default_config(), heartbeat_min=60)
    assert "config" not in device.events([heartbeat(1)], extra={"cv": 2}).json()["down"]
    # the same value again changes nothing
    assert client.put("/api/v1/devices/%s/config" % device.id, json={"heartbeat_min": 60},
                      headers=admin_headers).json()["config_version"] == 2


def test_config_outside_the_protocol_ranges_is_refused(client, device, admin_headers):
    for bad in ({"heartbeat_min": 0}, {"heartbeat_min": 99999}, {"colour": 1}):
        response = client.put("/api/v1/devices/%s/config" % device.id, json=bad, headers=admin_headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid"


def test_command_is_repeated_until_its_result_arrives(client, device, db, admin_headers):
    response = client.post("/api/v1/devices/%s/commands" % device.id, json={"name": "identify", "args": {"s": 5}},
                           headers=admin_headers)
    assert response.status_code == 201
    command = response.json()
    assert command["status"] == "pending"
    for _ in range(2):
        assert device.hello().json()["down"]["commands"] == [{"id": command["id"], "name": "identify",
                                                              "args": {"s": 5}}]
    result = {"seq": 1, "t": 1, "type": "cmd_result", "data": {"id": command["id"], "ok": True, "detail": "blinked"}}
    down = device.events([result]).json()["down"]
    assert down["commands"] == [] and down["cursor"] == 3
    listed = client.get("/api/v1/devices/%s/commands" % device.id, headers=admin_headers).json()
    assert listed[0]["status"] == "ok" and listed[0]["detail"] == "blinked" and listed[0]["done_at"]


def test_result_for_another_devices_command_changes_nothing(client, db, admin_headers):
    a, b = enroll(client, db), enroll(client, db)
    command = client.post("/api/v1/devices/%s/commands" % a.id, json={"name": "reboot"}, headers=admin_headers).json()
    b.events([{"seq": 1, "t": 1, "type": "cmd_result", "data": {"id": command["id"], "ok": False}}])
    assert a.hello().json()["down"]["commands"][0]["id"] == command["id"]


def test_unknown_command_and_device(client, device, admin_headers):
    bad = client.post("/api/v1/devices/%s/commands" % device.id, json={"name": "self_destruct"}, headers=admin_headers)
    assert bad.status_code == 422
    missing = client.post("/api/v1/devices/cb-nothere/commands", json={"name": "reboot"}, headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_device_events_listing(client, device, admin_headers):
    device.events([heartbeat(1, battery_v=2.9), heartbeat(2)])
    listed = client.get("/api/v1/devices/%s/events?limit=1" % device.id, headers=admin_headers).json()
    assert [(e["seq"], e["type"]) for e in listed] == [(2, "heartbeat")]
    older = client.get("/api/v1/devices/%s/events?before_id=%d" % (device.id, listed[0]["id"]),
                       headers=admin_headers).json()
    assert older[0]["data"] == {"battery_v": 2.9}


def test_a_revoke_by_another_process_applies_within_a_second(settings, db):
    from fastapi.testclient import TestClient

    from fleet.domain import devices
    from fleet.main import create_app
    from fleetkit import CLI, wait_for

    settings.identity_ttl_s = 600.0              # the backstop never comes into it: the change log does
    with TestClient(create_app(settings)) as client:
        device = enroll(client, db)
        assert device.hello().status_code == 200
        devices.revoke(db, CLI, device.id)       # as `fleet device revoke` does, on its own connection
        wait_for(lambda: device.hello().status_code == 403, timeout=2.0, what="the revoke to apply")
        assert client.app.state.fleet.board.status(device.id)[0] == "revoked"
