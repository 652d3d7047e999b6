"""Escalation by state, not by sleep: stages fire after their time, stop on acknowledgement, and
continue across a server restart (the schedule is in the database)."""

import httpx

from fleet.core import clock
from fleetkit import enroll

from alarmkit import Server, alarm, person, set_policy, the_alarm, wait_for


def detail(client, headers, alarm_id):
    return client.get("/api/v1/alarms/%d" % alarm_id, headers=headers).json()


def escalations(found):
    return [h for h in found["history"] if h["action"] == "escalated"]


def test_stages_fire_in_order_then_stop(client, db, caregiver):
    headers, _ = caregiver
    set_policy(db, "Fast", (1, "backup"), (2, "supervisors"))
    button = enroll(client, db, site="Fast")
    button.events([alarm(1, "a-1")])
    found = the_alarm(client, headers, button.id)
    received = clock.parse_iso(found["received_at"])
    assert clock.parse_iso(found["next_escalation_at"]) - received == 1.0

    done = wait_for(lambda: (lambda a: a if a["stage"] == 2 else None)(detail(client, headers, found["id"])),
                    what="two escalations")
    stages = escalations(done)
    assert [(h["detail"]["stage"], h["detail"]["group"]) for h in stages] == [(1, "backup"), (2, "supervisors")]
    assert clock.parse_iso(stages[0]["at"]) - received >= 1.0
    assert clock.parse_iso(stages[1]["at"]) - received >= 2.0
    assert done["groups"] == ["primary", "backup", "supervisors"] and done["next_escalation_at"] is None
    assert done["state"] == "received"          # escalation notifies; it never closes anything


def test_acknowledgement_stops_the_chain(client, db, caregiver):
    headers, _ = caregiver
    # 3 s: the acknowledgement below lands before the first stage is due even on a loaded machine
    set_policy(db, "Fast", (3, "backup"))
    button = enroll(client, db, site="Fast")
    button.events([alarm(1, "early")])
    early = the_alarm(client, headers, button.id, "early")
    acked = client.post("/api/v1/alarms/%d/acknowledge" % early["id"], headers=headers).json()
    assert acked["next_escalation_at"] is None
    # A second alarm, raised after the first one's due time was set, escalates: once it has, the
    # escalation task has certainly passed the first one's due time too.
    button.events([alarm(2, "late")])
    late = the_alarm(client, headers, button.id, "late")
    wait_for(lambda: detail(client, headers, late["id"])["stage"] == 1, what="the late alarm escalating")
    first = detail(client, headers, early["id"])
    assert first["stage"] == 0 and escalations(first) == [] and first["state"] == "acknowledged"


def test_the_default_policy_applies_to_sites_without_their_own(client, db, caregiver):
    headers, _ = caregiver
    set_policy(db, "*", (1, "night-shift"))
    button = enroll(client, db, site="Nowhere special")
    button.events([alarm(1, "a-1")])
    found = the_alarm(client, headers, button.id)
    done = wait_for(lambda: (lambda a: a if a["stage"] == 1 else None)(detail(client, headers, found["id"])))
    assert done["groups"] == ["primary", "night-shift"]
    policies = client.get("/api/v1/escalation-policies", headers=headers).json()
    assert {"site": "*", "stages": [{"after_s": 1, "group": "night-shift"}]}.items() <= policies[0].items()


def test_policy_validation(client, db):
    admin, _ = person(db, "admin")
    for stages, word in (([{"after_s": 60, "group": "a"}, {"after_s": 30, "group": "b"}], "later"),
                         ([{"after_s": 0, "group": "a"}], "after_s"),
                         ([{"after_s": 10, "group": "Bad Group"}], "group"),
                         ([], "stages")):
        response = client.put("/api/v1/escalation-policies/Block%201", json={"stages": stages}, headers=admin)
        assert response.status_code == 422 and word in response.json()["error"]["message"], response.text
    ok = client.put("/api/v1/escalation-policies/Block%201", json={"stages": [{"after_s": 5, "group": "b"}]},
                    headers=admin)
    assert ok.status_code == 200 and ok.json()["site"] == "Block 1"
    assert client.delete("/api/v1/escalation-policies/Block%201", headers=admin).status_code == 204
    assert client.get("/api/v1/escalation-policies/Block%201", headers=admin).status_code == 404


def test_a_restart_continues_the_schedule(settings, db):
    headers, _ = person(db, "caregiver")
    set_policy(db, "Fast", (3, "backup"))
    server = Server(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            button = enroll(http, db, site="Fast")
            button.events([alarm(1, "a-1")])
            found = the_alarm(http, headers, button.id)
    finally:
        server.stop()                               # down before the first stage is due
    assert db.conn.execute("SELECT stage FROM alarms").fetchone()[0] == 0
    server.start()                                  # a new process's worth of runtime, same database
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            done = wait_for(lambda: (lambda a: a if a["stage"] == 1 else None)(detail(http, headers, found["id"])),
                            what="escalation after the restart")
    finally:
        server.stop()
    [stage] = escalations(done)
    assert clock.parse_iso(stage["at"]) - clock.parse_iso(done["received_at"]) >= 3.0
