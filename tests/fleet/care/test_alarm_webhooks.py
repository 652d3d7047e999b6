"""Outgoing webhooks against a real local HTTP receiver: signed as Standard Webhooks specify
(verified by the receiver with the code docs/alarms.md gives, and by the standardwebhooks library),
retried with exponential backoff after failures, every attempt recorded, never blocking ingest."""

import base64
import json
import secrets
import threading

import httpx
import standardwebhooks

from fleet.core import clock
from fleet.domain import webhooks
from fleetkit import enroll

from alarmkit import Receiver, alarm, person, set_policy, the_alarm, wait_for


def add_hook(http, admin, url, **fields):
    response = http.post("/api/v1/webhooks", json=dict({"url": url}, **fields), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def deliveries(http, admin, hook_id):
    return http.get("/api/v1/webhooks/%d/deliveries" % hook_id, headers=admin).json()


def test_signed_delivery_of_an_alarm_and_its_acknowledgement(live_server, db):
    admin, _ = person(db, "admin")
    headers, name = person(db, "caregiver")
    with Receiver() as receiver, httpx.Client(base_url=live_server, timeout=10) as http:
        hook = add_hook(http, admin, receiver.url, name="pager")
        receiver.secret = hook["secret"]
        assert hook["secret"].startswith("whsec_") and "secret" not in http.get(
            "/api/v1/webhooks/%d" % hook["id"], headers=admin).json()
        button = enroll(http, db, site="Block 4")
        button.events([alarm(1, "a-1")])
        found = the_alarm(http, headers, button.id)
        http.post("/api/v1/alarms/%d/acknowledge" % found["id"], headers=headers)
        wait_for(lambda: receiver.of_event("alarm.acknowledged"), what="two deliveries")

    [raised] = receiver.of_event("alarm.raised")
    [acked] = receiver.of_event("alarm.acknowledged")
    for request in (raised, acked):
        assert request["valid"], "signature must verify with the webhook's secret, as the docs say"
        standardwebhooks.Webhook(hook["secret"]).verify(request["body"], request["headers"])   # raises if not
        assert request["headers"]["Content-Type"] == "application/json"
        assert request["headers"][webhooks.H_SIGNATURE].startswith("v1,")
        assert request["headers"][webhooks.H_EVENT] == request["json"]["event"]
    assert raised["headers"][webhooks.H_ID] != acked["headers"][webhooks.H_ID]
    assert raised["json"]["group"] == "primary"
    alarm_body = raised["json"]["alarm"]
    assert (alarm_body["id"], alarm_body["ref"], alarm_body["device_id"], alarm_body["state"]) == (
        found["id"], "a-1", button.id, "received")
    assert acked["json"]["alarm"]["acknowledged_by"] == name
    # The signature covers id, timestamp and body: a changed byte fails, so does the body sent again as
    # another delivery, an old timestamp (even signed right), or another secret.
    headers, body, secret = raised["headers"], raised["body"], hook["secret"]
    assert webhooks.verify(secret, headers, body)
    assert not webhooks.verify(secret, headers, body + b" ")
    assert not webhooks.verify(secret, dict(headers, **{webhooks.H_ID: acked["headers"][webhooks.H_ID]}), body)
    old = int(headers[webhooks.H_TIMESTAMP]) - 600
    assert not webhooks.verify(secret, dict(headers, **{webhooks.H_TIMESTAMP: str(old), webhooks.H_SIGNATURE:
                                                        webhooks.sign(secret, headers[webhooks.H_ID], old, body)}), body)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    assert not webhooks.verify(other, headers, body)


def test_failures_are_retried_with_backoff_and_recorded(live_server, db, settings):
    admin, _ = person(db, "admin")
    with Receiver(fail_first=2) as receiver, httpx.Client(base_url=live_server, timeout=10) as http:
        hook = add_hook(http, admin, receiver.url, events=["alarm.raised"])
        receiver.secret = hook["secret"]
        button = enroll(http, db)
        button.events([alarm(1, "a-1")])
        done = wait_for(lambda: (lambda d: d if d and d[0]["state"] == "delivered" else None)(
            deliveries(http, admin, hook["id"])), what="delivered after two failures")
    [delivery] = done
    assert delivery["attempts"] == 3 and delivery["last_status"] == 200 and delivery["delivered_at"]
    log = delivery["attempt_log"]
    assert [a["status_code"] for a in log] == [500, 500, 200]
    assert [a["error"] for a in log] == ["HTTP 500", "HTTP 500", None]
    times = [clock.parse_iso(a["at"]) for a in log]
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert first_gap >= settings.webhook_backoff_s * 0.9                 # 0.2 s, then doubled
    assert second_gap >= 2 * settings.webhook_backoff_s * 0.9
    assert len(receiver.requests) == 3 and all(r["valid"] for r in receiver.requests)
    # Each attempt is signed anew; the delivery id stays the same (receivers deduplicate on it).
    assert {r["headers"][webhooks.H_ID] for r in receiver.requests} == {"dlv_%d" % delivery["id"]}


def test_gives_up_after_max_attempts(live_server, db, settings):
    admin, _ = person(db, "admin")
    with Receiver(fail_first=100) as receiver, httpx.Client(base_url=live_server, timeout=10) as http:
        hook = add_hook(http, admin, receiver.url)
        queued = http.post("/api/v1/webhooks/%d/test" % hook["id"], headers=admin)
        assert queued.status_code == 202
        done = wait_for(lambda: (lambda d: d if d and d[0]["state"] == "failed" else None)(
            deliveries(http, admin, hook["id"])), what="failed for good")
    assert done[0]["event"] == "ping" and done[0]["attempts"] == settings.webhook_max_attempts
    assert len(receiver.requests) == settings.webhook_max_attempts


def test_unreachable_url_is_recorded(live_server, db):
    admin, _ = person(db, "admin")
    with httpx.Client(base_url=live_server, timeout=10) as http:
        hook = add_hook(http, admin, "http://127.0.0.1:9/nothing-listens")
        http.post("/api/v1/webhooks/%d/test" % hook["id"], headers=admin)
        first = wait_for(lambda: (lambda d: d if d and d[0]["attempts"] else None)(deliveries(http, admin, hook["id"])))
    attempt = first[0]["attempt_log"][0]
    assert attempt["status_code"] is None and "Connect" in attempt["error"]


def test_a_hanging_receiver_never_blocks_ingest(live_server, db):
    admin, _ = person(db, "admin")
    hold = threading.Event()
    with Receiver(hold=hold) as receiver, httpx.Client(base_url=live_server, timeout=10) as http:
        hook = add_hook(http, admin, receiver.url)
        receiver.secret = hook["secret"]
        button = enroll(http, db)
        button.events([alarm(1, "a-1")])
        wait_for(lambda: receiver.requests, what="the receiver holding a delivery")
        # While the receiver holds the first delivery open, the button is served as usual.
        answer = button.events([alarm(2, "a-2")])
        assert answer.status_code == 200 and answer.json()["down"]["alarms"] == {"a-1": "received", "a-2": "received"}
        assert not any("answered" in r for r in receiver.requests)
        hold.set()
        wait_for(lambda: len([d for d in deliveries(http, admin, hook["id"]) if d["state"] == "delivered"]) == 2)


def test_group_filters_and_resident_privacy(live_server, db):
    """A `backup` webhook hears of an alarm only when it escalates to backup, and of what follows;
    payloads carry the resident only for webhooks that ask."""
    admin, _ = person(db, "admin")
    headers, _ = person(db, "caregiver")
    set_policy(db, "Fast", (1, "backup"))
    with Receiver() as backup, Receiver() as everything, httpx.Client(base_url=live_server, timeout=10) as http:
        add_hook(http, admin, backup.url, groups=["backup"])
        add_hook(http, admin, everything.url, include_resident=True)
        resident = http.post("/api/v1/residents", json={"name": "Wang Fang", "room": "3"}, headers=headers).json()
        button = enroll(http, db, site="Fast")
        http.put("/api/v1/residents/%d/devices/%s" % (resident["id"], button.id), headers=headers)
        button.events([alarm(1, "a-1")])
        escalated = wait_for(lambda: backup.of_event("alarm.escalated"), what="escalation to backup")
        found = the_alarm(http, headers, button.id)
        http.post("/api/v1/alarms/%d/acknowledge" % found["id"], headers=headers)
        wait_for(lambda: backup.of_event("alarm.acknowledged") and everything.of_event("alarm.acknowledged"))
    assert backup.of_event("alarm.raised") == []
    assert escalated[0]["json"]["group"] == "backup" and escalated[0]["json"]["alarm"]["stage"] == 1
    assert "Wang Fang" not in json.dumps([r["json"] for r in backup.requests])
    assert everything.of_event("alarm.raised")[0]["json"]["alarm"]["resident"]["name"] == "Wang Fang"


def test_webhook_admin(client, db):
    admin, _ = person(db, "admin")
    bad = client.post("/api/v1/webhooks", json={"url": "ftp://example.org/x"}, headers=admin)
    assert bad.status_code == 422 and "http" in bad.json()["error"]["message"]
    bad = client.post("/api/v1/webhooks", json={"url": "http://x.example/", "events": ["alarm.exploded"]},
                      headers=admin)
    assert bad.status_code == 422
    for weak in ("s" * 40, "whsec_" + base64.b64encode(b"short").decode(), "whsec_" + "!" * 40):
        bad = client.post("/api/v1/webhooks", json={"url": "http://x.example/", "secret": weak}, headers=admin)
        assert bad.status_code == 422 and "secret" in bad.json()["error"]["message"], weak
    chosen = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    hook = client.post("/api/v1/webhooks", json={"url": "http://x.example/", "secret": chosen}, headers=admin).json()
    assert hook["secret"] == chosen
    rotated = client.post("/api/v1/webhooks/%d/rotate-secret" % hook["id"], headers=admin).json()
    assert rotated["secret"] != hook["secret"]
    changed = client.patch("/api/v1/webhooks/%d" % hook["id"], json={"enabled": False, "groups": ["backup"]},
                           headers=admin).json()
    assert (changed["enabled"], changed["groups"]) == (False, ["backup"])
    assert client.delete("/api/v1/webhooks/%d" % hook["id"], headers=admin).status_code == 204
    assert client.get("/api/v1/webhooks/%d" % hook["id"], headers=admin).status_code == 404
