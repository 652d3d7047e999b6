"""Residents: assigned to buttons, shown with their alarms to caregivers and admins only, never in
logs or the audit log, nothing personal for technicians."""

import json
import logging

from fleet.domain import audit
from fleetkit import PASSWORD, enroll, make_user

from alarmkit import alarm, person, the_alarm

NAME = "Zhang Xiuying"
ADDRESS = "Xialu Road 88, Block 4"
PHONE = "139 1111 2222"


def test_resident_with_alarm_and_privacy(client, db, caregiver, caplog):
    caplog.set_level(logging.DEBUG)
    headers, _ = caregiver
    tech, _ = person(db, "technician")
    created = client.post("/api/v1/residents", headers=headers, json={
        "name": NAME, "address": ADDRESS, "room": "12",
        "contacts": [{"name": "Zhang Wei", "phone": PHONE, "relation": "son"}], "notes": "hard of hearing"})
    assert created.status_code == 201, created.text
    resident = created.json()
    button = enroll(client, db, site="Block 4")
    bin_ = enroll(client, db, role="smart_bin")
    assigned = client.put("/api/v1/residents/%d/devices/%s" % (resident["id"], button.id), headers=headers)
    assert assigned.status_code == 200 and assigned.json()["devices"] == [button.id]
    refused = client.put("/api/v1/residents/%d/devices/%s" % (resident["id"], bin_.id), headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_a_call_button"
    patched = client.patch("/api/v1/residents/%d" % resident["id"], json={"room": "14"}, headers=headers).json()
    assert patched["room"] == "14" and patched["name"] == NAME

    button.events([alarm(1, "a-1")])
    found = the_alarm(client, headers, button.id)
    assert found["resident"]["name"] == NAME and found["resident"]["room"] == "14"
    assert found["resident"]["contacts"] == [{"name": "Zhang Wei", "phone": PHONE, "relation": "son"}]
    client.post("/api/v1/alarms/%d/acknowledge" % found["id"], headers=headers)
    client.post("/api/v1/alarms/%d/resolve" % found["id"], json={"note": "visited"}, headers=headers)

    # Technicians: 403 on everything about residents and alarms; nothing personal in device views.
    for path in ("/api/v1/residents", "/api/v1/residents/%d" % resident["id"], "/api/v1/alarms",
                 "/api/v1/alarms/%d" % found["id"], "/api/v1/live/alarms"):
        response = client.get(path, headers=tech)
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden", path
    assert client.post("/api/v1/alarms/%d/acknowledge" % found["id"], headers=tech).status_code == 403
    for path in ("/api/v1/devices", "/api/v1/devices/%s" % button.id, "/api/v1/devices/%s/events" % button.id):
        text = client.get(path, headers=tech).text
        assert NAME not in text and ADDRESS not in text and PHONE not in text, path

    # The audit log names the resident's number, never their data; logs hold none of it.
    entries = [e for e in audit.entries(db, limit=1000) if e["action"].startswith("resident.")]
    assert [e["action"] for e in reversed(entries)] == ["resident.create", "resident.assign", "resident.update"]
    assert all(e["target"] == "resident:%d" % resident["id"] for e in entries)
    assert entries[0]["detail"] == {"fields": ["room"]}
    everything = json.dumps(audit.entries(db, limit=1000))
    for secret in (NAME, ADDRESS, PHONE, "hard of hearing", "Zhang Wei"):
        assert secret not in everything
        assert secret not in caplog.text
    assert caplog.records, "logging was captured"


def test_console_pages_for_roles(client, db):
    tech = make_user(db, "technician")
    client.post("/login", data={"username": tech["username"], "password": PASSWORD}, headers={"Origin": "http://testserver"})
    page = client.get("/console")
    assert page.status_code == 403 and "技术员无权打开此页面。" in page.text     # the district's language
    assert client.get("/residents").status_code == 403
    assert "/console" not in client.get("/devices").text          # no link to what they cannot open
    client.post("/logout", headers={"Origin": "http://testserver"})
    carer = make_user(db, "caregiver")
    client.post("/login", data={"username": carer["username"], "password": PASSWORD}, headers={"Origin": "http://testserver"})
    page = client.get("/console")
    assert page.status_code == 200 and "/static/care/console.js" in page.text and "点击开启声音" in page.text
    assert client.get("/residents").status_code == 200
    assert client.get("/console", follow_redirects=False).status_code == 200
    client.post("/logout", headers={"Origin": "http://testserver"})
    assert client.get("/console", follow_redirects=False).headers["location"] == "/login"


def test_resident_validation_and_deletion(client, db, caregiver):
    headers, _ = caregiver
    for body, word in (({"name": ""}, "name"), ({"name": "x", "contacts": [{"relation": "son"}]}, "contact"),
                       ({"name": "x", "contacts": [{"name": "a", "email": "a@b"}]}, "email")):
        response = client.post("/api/v1/residents", json=body, headers=headers)
        assert response.status_code == 422 and word in response.json()["error"]["message"], response.text
    resident = client.post("/api/v1/residents", json={"name": NAME}, headers=headers).json()
    button = enroll(client, db)
    client.put("/api/v1/residents/%d/devices/%s" % (resident["id"], button.id), headers=headers)
    button.events([alarm(1, "a-1")])
    assert the_alarm(client, headers, button.id)["resident"]["id"] == resident["id"]
    assert client.delete("/api/v1/residents/%d" % resident["id"], headers=headers).status_code == 204
    assert the_alarm(client, headers, button.id)["resident"] is None
    assert client.get("/api/v1/residents/%d" % resident["id"], headers=headers).status_code == 404
    assert client.delete("/api/v1/residents/%d/devices/%s" % (resident["id"], button.id),
                         headers=headers).status_code == 404


def test_an_alarm_shows_the_resident_as_they_were_when_it_was_raised(client, db, caregiver):
    headers, _ = caregiver
    button = enroll(client, db, site="Block 4")

    def close(alarm_id):
        client.post("/api/v1/alarms/%d/acknowledge" % alarm_id, headers=headers)
        assert client.post("/api/v1/alarms/%d/resolve" % alarm_id, json={"note": "visited"},
                           headers=headers).json()["state"] == "resolved"

    # Raised while no one was assigned, closed, and only then the button gets its resident.
    button.events([alarm(1, "before")])
    before = the_alarm(client, headers, button.id, "before")
    assert before["resident"] is None
    close(before["id"])
    li = client.post("/api/v1/residents", headers=headers, json={"name": NAME, "room": "12"}).json()
    client.put("/api/v1/residents/%d/devices/%s" % (li["id"], button.id), headers=headers)
    assert the_alarm(client, headers, button.id, "before")["resident"] is None

    # Raised with Li assigned, closed; then Li moves room and the button goes to someone else.
    button.events([alarm(2, "with-li")])
    with_li = the_alarm(client, headers, button.id, "with-li")
    assert (with_li["resident"]["name"], with_li["resident"]["room"]) == (NAME, "12")
    close(with_li["id"])
    client.patch("/api/v1/residents/%d" % li["id"], json={"room": "14"}, headers=headers)
    wang = client.post("/api/v1/residents", headers=headers, json={"name": "Wang Fang"}).json()
    client.put("/api/v1/residents/%d/devices/%s" % (wang["id"], button.id), headers=headers)
    assert the_alarm(client, headers, button.id, "with-li")["resident"]["room"] == "12"
    assert the_alarm(client, headers, button.id, "with-li")["resident"]["name"] == NAME

    # An open alarm shows corrections to its resident (the caregiver on the way needs them).
    button.events([alarm(3, "open")])
    assert the_alarm(client, headers, button.id, "open")["resident"]["name"] == "Wang Fang"
    client.patch("/api/v1/residents/%d" % wang["id"], json={"room": "3"}, headers=headers)
    assert the_alarm(client, headers, button.id, "open")["resident"]["room"] == "3"

    # Forgetting Li removes Li from the past alarm too.
    assert client.delete("/api/v1/residents/%d" % li["id"], headers=headers).status_code in (200, 204)
    assert the_alarm(client, headers, button.id, "with-li")["resident"] is None
