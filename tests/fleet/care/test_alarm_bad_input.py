"""Each bad input has a defined outcome and a clear message: unknown or closed alarms, double
acknowledgement, cancel after acknowledgement, a cancel stored before its alarm, events twice or
out of order, a button with no resident."""

import pytest

from fleet.core.security import SecretBox
from fleet.domain import webhooks
from fleetkit import CLI, count, enroll

from alarmkit import alarm, cancel, person, the_alarm


def ack(client, headers, alarm_id):
    return client.post("/api/v1/alarms/%d/acknowledge" % alarm_id, headers=headers)


def resolve(client, headers, alarm_id, note="done"):
    return client.post("/api/v1/alarms/%d/resolve" % alarm_id, json={"note": note}, headers=headers)


def error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    return response.json()["error"]["message"]


@pytest.fixture
def hook(client, db):
    """A webhook for every event: whether a situation notified anyone is counted in its outbox."""
    box = SecretBox.from_file(client.app.state.fleet.settings.key_path)
    created, _ = webhooks.create_webhook(db, box, CLI, "http://127.0.0.1:9/never-answers")
    return created


def deliveries(db, alarm_id):
    return [r[0] for r in db.conn.execute("SELECT event FROM webhook_deliveries WHERE alarm_id = ? ORDER BY id",
                                          (alarm_id,))]


def test_unknown_alarm(client, caregiver):
    headers, _ = caregiver
    assert "no alarm 4242" in error(ack(client, headers, 4242), 404, "not_found")
    error(resolve(client, headers, 4242), 404, "not_found")
    error(client.get("/api/v1/alarms/4242", headers=headers), 404, "not_found")


def test_double_acknowledgement_says_who_and_when(client, db, caregiver):
    headers, name = caregiver
    other_headers, _ = person(db, "caregiver")
    button = enroll(client, db)
    button.events([alarm(1, "a-1")])
    first = the_alarm(client, headers, button.id)
    acked = ack(client, headers, first["id"]).json()
    message = error(ack(client, other_headers, first["id"]), 409, "already_acknowledged")
    assert name in message and acked["acknowledged_at"] in message
    assert the_alarm(client, headers, button.id)["acknowledged_by"] == name


def test_closed_alarms_refuse_acknowledge_and_resolve(client, db, caregiver):
    headers, name = caregiver
    button = enroll(client, db)
    button.events([alarm(1, "a-1"), alarm(2, "a-2")])
    resolved = the_alarm(client, headers, button.id, "a-1")
    assert resolve(client, headers, resolved["id"], "false alarm, spoke to her").status_code == 200
    message = error(ack(client, headers, resolved["id"]), 409, "alarm_closed")
    assert "resolved by %s" % name in message
    error(resolve(client, headers, resolved["id"]), 409, "alarm_closed")

    button.events([cancel(3, "a-2")])
    cancelled = the_alarm(client, headers, button.id, "a-2")
    assert cancelled["state"] == "cancelled"
    assert "cancelled by the device" in error(ack(client, headers, cancelled["id"]), 409, "alarm_closed")
    error(resolve(client, headers, cancelled["id"]), 409, "alarm_closed")


def test_resolve_needs_a_note(client, db, caregiver):
    headers, _ = caregiver
    button = enroll(client, db)
    button.events([alarm(1, "a-1")])
    found = the_alarm(client, headers, button.id)
    error(resolve(client, headers, found["id"], "   "), 422, "note_required")
    error(client.post("/api/v1/alarms/%d/resolve" % found["id"], json={}, headers=headers), 422, "invalid")
    assert the_alarm(client, headers, button.id)["state"] == "received"


def test_cancel_while_waiting_stops_everything(client, db, caregiver, hook):
    headers, _ = caregiver
    button = enroll(client, db)
    button.events([alarm(1, "a-1")])
    answer = button.events([cancel(2, "a-1")]).json()
    assert answer["down"]["alarms"] == {"a-1": "cancelled"}
    found = the_alarm(client, headers, button.id)
    assert (found["state"], found["open"], found["next_escalation_at"]) == ("cancelled", False, None)
    assert deliveries(db, found["id"]) == ["alarm.raised", "alarm.cancelled"]


def test_cancel_after_acknowledgement(client, db, caregiver, hook):
    headers, name = caregiver
    button = enroll(client, db)
    button.events([alarm(1, "a-1")])
    found = the_alarm(client, headers, button.id)
    ack(client, headers, found["id"])
    answer = button.events([cancel(2, "a-1")]).json()
    assert answer["down"]["alarms"] == {"a-1": "acknowledged"}       # stays acknowledged
    detail = client.get("/api/v1/alarms/%d" % found["id"], headers=headers).json()
    assert detail["state"] == "acknowledged" and detail["cancel_requested_at"]
    last = detail["history"][-1]
    assert last["action"] == "cancel_after_ack"
    assert "cancel requested after acknowledgement by %s" % name in last["detail"]["message"]
    assert deliveries(db, found["id"])[-1] == "alarm.cancel_requested"
    # It is still a caregiver who closes it.
    assert resolve(client, headers, found["id"], "she pressed by mistake").json()["state"] == "resolved"


def test_cancel_stored_before_its_alarm_notifies_no_one(client, db, caregiver, hook):
    """Events above a gap are stored first: seq 2 (the cancel) arrives, then seq 1 (the alarm)."""
    headers, _ = caregiver
    button = enroll(client, db)
    first = button.events([cancel(2, "a-9")]).json()
    assert first["ack"] == 0 and first["down"]["alarms"] == {"a-9": "cancelled"}
    placeholder = the_alarm(client, headers, button.id)
    assert (placeholder["state"], placeholder["raised_at"]) == ("cancelled", None)

    second = button.events([alarm(1, "a-9")]).json()
    assert second["ack"] == 2 and second["down"]["alarms"] == {"a-9": "cancelled"}
    done = client.get("/api/v1/alarms/%d" % placeholder["id"], headers=headers).json()
    assert done["state"] == "cancelled" and done["raised_at"] and done["next_escalation_at"] is None
    assert [h["action"] for h in done["history"]] == ["cancel_before_alarm", "raised_after_cancel"]
    assert deliveries(db, done["id"]) == []                 # no webhook, no escalation
    assert count(db, "alarms") == 1
    error(ack(client, headers, done["id"]), 409, "alarm_closed")


def test_events_twice_and_repeated_refs_have_no_second_effect(client, db, caregiver, hook):
    headers, _ = caregiver
    button = enroll(client, db)
    batch = [alarm(1, "a-1", t=1796031150)]
    assert button.events(batch).json()["stored"] == 1
    again = button.events(batch).json()                     # the same request retried
    assert (again["stored"], again["duplicates"]) == (0, 1)
    retry = button.events([alarm(2, "a-1")]).json()          # the button's own retry as a new event
    assert retry["stored"] == 1
    found = the_alarm(client, headers, button.id)
    detail = client.get("/api/v1/alarms/%d" % found["id"], headers=headers).json()
    assert [h["action"] for h in detail["history"]] == ["raised", "received", "repeated"]
    assert deliveries(db, found["id"]) == ["alarm.raised"]
    assert count(db, "alarms") == 1

    # A cancel twice (new seqs) and a cancel of a closed alarm change nothing more.
    button.events([cancel(3, "a-1")])
    button.events([cancel(4, "a-1")])
    detail = client.get("/api/v1/alarms/%d" % found["id"], headers=headers).json()
    assert detail["state"] == "cancelled" and detail["history"][-1]["action"] == "cancel_ignored"
    assert deliveries(db, found["id"]) == ["alarm.raised", "alarm.cancelled"]


def test_out_of_order_batch(client, db, caregiver):
    """Alarm and cancel of one press in reverse order inside one batch: stored once, cancelled."""
    headers, _ = caregiver
    button = enroll(client, db)
    answer = button.events([cancel(2, "a-1"), alarm(1, "a-1")]).json()
    assert (answer["ack"], answer["stored"], answer["down"]["alarms"]) == (2, 2, {"a-1": "cancelled"})
    found = the_alarm(client, headers, button.id)
    assert found["state"] == "cancelled" and found["raised_at"]


def test_button_without_resident_still_raises(client, db, caregiver):
    headers, _ = caregiver
    button = enroll(client, db)
    assert button.events([alarm(1, "a-1")]).json()["down"]["alarms"] == {"a-1": "received"}
    found = the_alarm(client, headers, button.id)
    assert found["state"] == "received" and found["resident"] is None
    # (the console's "No resident assigned" warning is checked in the browser test)


def test_alarms_of_other_roles_are_not_call_alarms(client, db, caregiver):
    headers, _ = caregiver
    bin_ = enroll(client, db, role="smart_bin")
    assert bin_.events([alarm(1, "fire-1", kind="fire")]).json()["stored"] == 1
    assert client.get("/api/v1/alarms", headers=headers).json() == []
    assert "alarms" not in bin_.hello().json()["down"]


def test_acknowledging_a_supervision_alarm_leaves_down_alone(client, db, caregiver):
    from alarmkit import battery_low
    headers, _ = caregiver
    button = enroll(client, db)
    button.events([battery_low(1, 2.61, days_left=30)])
    found = the_alarm(client, headers, button.id)
    assert (found["kind"], found["category"], found["ref"]) == ("battery_low", "supervision", None)
    assert ack(client, headers, found["id"]).status_code == 200
    assert button.poll(cursor=0).json()["down"]["alarms"] == {}
