"""The alarm lifecycle through the real app: a signed alarm event → received → acknowledged by a
named caregiver → resolved with a note; the button's `down.alarms` follows every step; each
transition is in the history and the audit log."""

from fleet.domain import audit
from fleetkit import count, enroll

from alarmkit import alarm, heartbeat, the_alarm


def test_press_acknowledge_resolve(client, db, caregiver):
    headers, name = caregiver
    button = enroll(client, db, site="Block 4")
    stored = button.events([alarm(1, "a-0001", battery_v=3.01)]).json()
    assert stored["stored"] == 1 and stored["down"]["alarms"] == {"a-0001": "received"}

    listed = the_alarm(client, headers, button.id)
    assert (listed["ref"], listed["kind"], listed["category"], listed["state"], listed["site"]) == (
        "a-0001", "call", "call", "received", "Block 4")
    assert listed["open"] and listed["battery_v"] == 3.01 and listed["resident"] is None
    assert listed["received_at"] and listed["raised_at"] and listed["stage"] == 0 and listed["groups"] == ["primary"]
    assert listed["next_escalation_at"] > listed["received_at"]

    acked = client.post("/api/v1/alarms/%d/acknowledge" % listed["id"], headers=headers)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["state"], acked.json()["acknowledged_by"]) == ("acknowledged", name)
    assert acked.json()["next_escalation_at"] is None
    assert button.poll(cursor=0).json()["down"]["alarms"] == {"a-0001": "acknowledged"}

    resolved = client.post("/api/v1/alarms/%d/resolve" % listed["id"], json={"note": "visited, she is fine"},
                           headers=headers)
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["state"], body["resolved_by"], body["resolution_note"], body["open"]) == (
        "resolved", name, "visited, she is fine", False)
    # Closed alarms stay in `down` (for 24 h) so a sleeping button still learns the outcome.
    assert button.events([heartbeat(2)]).json()["down"]["alarms"] == {"a-0001": "resolved"}

    detail = client.get("/api/v1/alarms/%d" % listed["id"], headers=headers).json()
    assert [(h["action"], h["actor"]) for h in detail["history"]] == [
        ("raised", "device:" + button.id), ("received", "fleet"), ("acknowledged", "token:" + name),
        ("resolved", "token:" + name)]
    actions = [e["action"] for e in reversed(audit.entries(db)) if e["target"] == "alarm:%d" % listed["id"]]
    assert actions == ["alarm.raised", "alarm.received", "alarm.acknowledged", "alarm.resolved"]
    assert count(db, "alarms") == 1


def test_filters(client, db, caregiver):
    headers, _ = caregiver
    one = enroll(client, db, site="North")
    two = enroll(client, db, site="South")
    one.events([alarm(1, "a-1")])
    two.events([alarm(1, "b-1"), alarm(2, "b-2", kind="fall")])
    first = the_alarm(client, headers, one.id)
    client.post("/api/v1/alarms/%d/acknowledge" % first["id"], headers=headers)

    def ids(**params):
        response = client.get("/api/v1/alarms", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return sorted(a["ref"] for a in response.json())

    assert ids() == ["a-1", "b-1", "b-2"]
    assert ids(state="acknowledged") == ["a-1"]
    assert ids(site="South") == ["b-1", "b-2"]
    assert ids(kind="fall") == ["b-2"]
    assert ids(device_id=one.id) == ["a-1"]
    assert ids(category="supervision") == []
    assert ids(since="2000-01-01T00:00:00Z") == ["a-1", "b-1", "b-2"]
    assert ids(since="2999-01-01T00:00:00Z") == []
    newest = client.get("/api/v1/alarms", params={"limit": 1}, headers=headers).json()
    assert [a["ref"] for a in newest] == ["b-2"]
    older = client.get("/api/v1/alarms", params={"before_id": newest[0]["id"]}, headers=headers).json()
    assert [a["ref"] for a in older] == ["b-1", "a-1"]
    bad = client.get("/api/v1/alarms", params={"since": "yesterday"}, headers=headers)
    assert bad.status_code == 422 and "ISO" in bad.json()["error"]["message"]


def test_down_lists_the_open_alarm_and_only_the_latest_closed_ones(client, db, caregiver):
    """A button pressed again and again in one day: `down.alarms` keeps its open alarm and its
    latest closed ones, not every alarm of the day (each poll's JSON must fit a board's heap)."""
    from fleet.care.alarms import DOWN_CLOSED_MAX
    headers, _ = caregiver
    button = enroll(client, db)
    refs = ["p-%03d" % n for n in range(DOWN_CLOSED_MAX + 12)]
    for n, ref in enumerate(refs, 1):
        button.events([alarm(n, ref)])
        listed = the_alarm(client, headers, button.id, ref)
        assert client.post("/api/v1/alarms/%d/resolve" % listed["id"], json={"note": "test"},
                           headers=headers).status_code == 200
    button.events([alarm(len(refs) + 1, "p-open")])
    down = button.poll(cursor=0).json()["down"]["alarms"]
    assert list(down) == refs[-DOWN_CLOSED_MAX:] + ["p-open"]
    assert set(down.values()) == {"resolved", "received"} and down["p-open"] == "received"
