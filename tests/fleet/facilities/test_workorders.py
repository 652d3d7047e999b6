"""Work orders: opened by a device fault or a report, routed to a team, handled to the end -
every transition audited, a replayed update applied once, another team's order refused."""

import json
import re
import time

import pytest

from fleetkit import CLI, bearer, enroll, make_user
from facilitykit import asset, report
from fleet.core import clock
from fleet.facilities import workorders
from fleet.store.db import write_tx


def fault(seq, kind, **data):
    return {"seq": seq, "t": int(time.time()), "type": kind, "data": data}


@pytest.fixture
def crew(client, db):
    """Two teams: lights-north (tech A) for streetlights in the north, covers (tech B) for any cover."""
    a, b = make_user(db, "technician"), make_user(db, "technician")
    with write_tx(db):
        tx = workorders.LocalTx(db)
        workorders.save_team(tx, CLI, "lights-north", None, "lights-supervisors", [a["username"]])
        workorders.save_team(tx, CLI, "covers", None, None, [b["username"]])
        workorders.set_route(tx, CLI, "streetlight", "north", "lights-north")
        workorders.set_route(tx, CLI, "manhole_cover", "*", "covers")
    from fleetkit import credentials_headers
    return {"a": credentials_headers(db, a), "b": credentials_headers(db, b), "a_name": a["username"]}


def act(client, headers, wo_id, action, **body):
    return client.post("/api/v1/workorders/%d/actions" % wo_id, json=dict(body, action=action), headers=headers)


def test_a_tilted_cover_opens_a_routed_work_order_once(client, db, crew):
    beacon = enroll(client, db, role="beacon")
    cover = asset(client, bearer(db, "admin"), type="manhole_cover", device_id=beacon.id)
    stored = beacon.events([fault(1, "cover_open", tilt_deg=23.5, battery_v=3.4)])
    assert stored.status_code == 200
    beacon.events([fault(1, "cover_open", tilt_deg=23.5, battery_v=3.4)])           # a retry: nothing new
    beacon.events([fault(2, "cover_open", tilt_deg=40.0)])                          # again: joins
    [wo] = client.get("/api/v1/workorders", headers=crew["b"]).json()
    assert (wo["asset_code"], wo["category"], wo["source"], wo["state"], wo["team"]) == (
        cover["code"], "cover_open", "device", "assigned", "covers")
    assert clock.parse_iso(wo["due_at"]) - clock.parse_iso(wo["opened_at"]) == pytest.approx(4 * 3600, abs=1)
    history = [h["action"] for h in client.get("/api/v1/workorders/%d" % wo["id"], headers=crew["b"]).json()["history"]]
    assert history == ["opened", "assigned", "joined"]
    assert client.get("/api/v1/assets/%d" % cover["id"], headers=crew["b"]).json()["fault"] == "cover_open"
    beacon.events([fault(3, "cover_closed", tilt_deg=1.0)])
    assert client.get("/api/v1/assets/%d" % cover["id"], headers=crew["b"]).json()["fault"] is None
    after = client.get("/api/v1/workorders/%d" % wo["id"], headers=crew["b"]).json()
    assert after["state"] == "assigned" and after["history"][-1]["action"] == "sensor_restored"


def test_the_whole_way_to_closed_each_step_audited_and_a_second_close_refused(client, db, crew):
    lamp = asset(client, bearer(db, "admin"))
    report(client, lamp["code"])
    [wo] = client.get("/api/v1/workorders?mine=true", headers=crew["a"]).json()
    assert wo["team"] == "lights-north" and wo["state"] == "assigned"
    assert act(client, crew["a"], wo["id"], "take").json()["assignee"] == crew["a_name"]
    assert act(client, crew["a"], wo["id"], "start").json()["state"] == "in_progress"
    assert act(client, crew["a"], wo["id"], "resolve").json()["error"]["code"] == "note_required"
    done = act(client, crew["a"], wo["id"], "resolve", note="Replaced the lamp and the fuse")
    assert done.json()["state"] == "resolved" and done.json()["resolution_note"] == "Replaced the lamp and the fuse"
    assert act(client, crew["a"], wo["id"], "close").json()["state"] == "closed"
    twice = act(client, crew["a"], wo["id"], "close")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_closed"
    again = act(client, crew["a"], wo["id"], "start")
    assert again.status_code == 409 and again.json()["error"]["code"] == "work_order_done"
    audited = [r[0] for r in db.conn.execute("SELECT action FROM audit WHERE target = ? ORDER BY id",
                                            ("workorder:%d" % wo["id"],))]
    assert audited == ["workorder.opened", "workorder.assigned", "workorder.take", "workorder.start",
                       "workorder.resolve", "workorder.close"]


def test_a_technician_cannot_update_another_teams_order(client, db, crew):
    lamp = asset(client, bearer(db, "admin"))
    report(client, lamp["code"])
    [wo] = client.get("/api/v1/workorders", headers=crew["b"]).json()            # reading is allowed
    for action, body in (("start", {}), ("resolve", {"note": "done"}), ("reject", {"reason": "no"}), ("take", {})):
        refused = act(client, crew["b"], wo["id"], action, **body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "other_team", action
    assign = act(client, crew["a"], wo["id"], "assign", team="covers")
    assert assign.status_code == 403                                             # only admins move orders
    assert client.get("/api/v1/workorders/%d" % wo["id"], headers=crew["a"]).json()["state"] == "assigned"
    moved = act(client, bearer(db, "admin"), wo["id"], "assign", team="covers")
    assert moved.json()["team"] == "covers"
    assert act(client, crew["b"], wo["id"], "start").status_code == 200


def test_a_replayed_update_is_applied_once(client, db, crew):
    lamp = asset(client, bearer(db, "admin"))
    report(client, lamp["code"])
    [wo] = client.get("/api/v1/workorders", headers=crew["a"]).json()
    first = act(client, crew["a"], wo["id"], "note", note="On my way", idem_key="phone-1:0001")
    replay = act(client, crew["a"], wo["id"], "note", note="On my way", idem_key="phone-1:0001")
    assert first.status_code == replay.status_code == 200 and replay.json()["replayed"] is True
    start = act(client, crew["a"], wo["id"], "start", idem_key="phone-1:0002")
    assert act(client, crew["a"], wo["id"], "start", idem_key="phone-1:0002").status_code == 200   # not a 409
    assert start.json()["state"] == "in_progress"
    notes = db.conn.execute("SELECT count(*) FROM work_order_events WHERE action = 'note'").fetchone()[0]
    assert notes == 1
    other = act(client, crew["a"], 999, "note", note="x", idem_key="phone-1:0001")
    assert other.status_code in (404, 409)


def test_rejected_with_a_reason_the_reporter_reads(client, db, crew):
    lamp = asset(client, bearer(db, "admin"))
    request_id = report(client, lamp["code"]).json()[0]["service_request_id"]
    [wo] = client.get("/api/v1/workorders", headers=crew["a"]).json()
    assert act(client, crew["a"], wo["id"], "reject").json()["error"]["code"] == "reason_required"
    act(client, crew["a"], wo["id"], "reject", reason="The lamp is lit: the sensor was covered by a branch, now cut")
    seen = client.get("/open311/v2/requests/%s.json" % request_id).json()[0]
    assert seen["status"] == "closed" and "branch, now cut" in seen["status_notes"]


def test_overdue_orders_escalate_and_show_in_the_tracking(client, db, crew):
    lamp = asset(client, bearer(db, "admin"))
    report(client, lamp["code"])
    [wo] = client.get("/api/v1/workorders", headers=crew["a"]).json()
    past = clock.iso(clock.now() - 3600)
    db.conn.execute("UPDATE work_orders SET due_at = ?, next_sla_at = ? WHERE id = ?", (past, past, wo["id"]))
    client.app.state.fleet.services["facilities"].wake()
    from hil_tests.polling import wait_until
    wait_until(lambda: client.get("/api/v1/workorders/%d" % wo["id"], headers=crew["a"]).json()["sla_stage"] == 1,
               "escalated", 5)
    detail = client.get("/api/v1/workorders/%d" % wo["id"], headers=crew["a"]).json()
    assert detail["overdue"] and detail["history"][-1]["action"] == "overdue"
    assert detail["history"][-1]["detail"]["group"] == "lights-supervisors"
    admin = bearer(db, "admin")
    assert [o["id"] for o in client.get("/api/v1/facilities/overdue", headers=admin).json()] == [wo["id"]]
    act(client, crew["a"], wo["id"], "resolve", note="Fixed")
    rows = client.get("/api/v1/facilities/tracking", headers=admin).json()
    light = [r for r in rows if r["category"] == "light_out"]
    assert sum(r["reports"] for r in light) == 1 and sum(r["closed"] for r in light) == 1
    assert all(r["median_h"] is not None for r in light if r["closed"])
    csv_text = client.get("/api/v1/facilities/tracking.csv", headers=admin).text
    assert csv_text.splitlines()[0] == "week,category,reports,opened,closed,rejected,median_h,p90_h,overdue"
    assert client.get("/api/v1/facilities/tracking", headers=crew["a"]).status_code == 403


def test_tracking_median_and_p90():
    assert workorders._percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert workorders._percentile([5], 90) == 5


def test_the_public_page_follows_every_change_in_each_language_while_it_is_cached(client, db, crew):
    """The page is kept rendered (fleet/facilities/web/pagecache.py): asked again and again at the
    same address, it still says each new state at once, in the reader's language, and shows an
    edit made by another process (a CLI import writes the database directly)."""
    from fleet.facilities.web.pages import PAGES
    lamp = asset(client, bearer(db, "admin"))
    en, zh = {"Accept-Language": "en"}, {"Accept-Language": "zh-CN"}

    def status(headers):
        page = client.get("/a/" + lamp["code"], headers=headers)
        assert page.status_code == 200
        return re.search(r'id="status">([^<]*)<', page.text).group(1).strip(), page.text

    hits = PAGES.hits
    assert status(en)[0] == "Working" and status(en)[0] == "Working" and status(zh)[0] == "正常"
    assert PAGES.hits > hits                                                       # it is cached
    report(client, lamp["code"])
    assert status(en)[0].startswith("Fault reported, being handled since")         # routed: assigned
    assert status(zh)[0].startswith("已报告故障")
    [wo] = client.get("/api/v1/workorders?mine=true", headers=crew["a"]).json()
    act(client, crew["a"], wo["id"], "start")
    assert status(en)[0].startswith("Being repaired since")
    act(client, crew["a"], wo["id"], "resolve", note="New lamp")
    assert status(en)[0].startswith("Working (repaired on")
    with write_tx(db):                                  # another process renames it
        db.conn.execute("UPDATE assets SET name = 'Lamp 12 (north gate)' WHERE id = ?", (lamp["id"],))
    assert "Lamp 12 (north gate)" in status(en)[1]
    assert "Lamp 12 (north gate)" in status(zh)[1] and '<html lang="zh-CN">' in status(zh)[1]


def test_every_transition_reaches_the_teams_webhook_signed_and_the_reporters_follow_page(live_server, db, crew):
    """Work orders through the core's webhook outbox (Standard Webhooks signing, as alarms): the
    lights team's webhook hears of its order's steps, the covers team's hears nothing; the
    reporter's follow page (/r/<token>) lists every step, without a name in it."""
    import httpx
    import standardwebhooks
    from facilitykit import HookReceiver
    from fleet.domain import webhooks
    from fleetkit import wait_for
    admin = bearer(db, "admin")
    wanted = ["workorder.opened", "workorder.take", "workorder.start", "workorder.resolve", "workorder.close"]
    with HookReceiver() as lights, HookReceiver() as covers, httpx.Client(base_url=live_server, timeout=10) as http:
        assert set(wanted) <= set(http.get("/api/v1/webhooks/events", headers=admin).json())
        hook = http.post("/api/v1/webhooks", json={"url": lights.url, "events": wanted, "groups": ["lights-north"]},
                         headers=admin).json()
        other = http.post("/api/v1/webhooks", json={"url": covers.url, "groups": ["covers"]}, headers=admin).json()
        refused = http.post("/api/v1/webhooks", json={"url": lights.url, "events": ["workorder.exploded"]},
                            headers=admin)
        assert refused.status_code == 422
        lamp = asset(http, admin)
        token = report(http, lamp["code"], description="Dark since Monday", email="x@example.org").json()[0]["token"]
        [wo] = http.get("/api/v1/workorders?mine=true", headers=crew["a"]).json()
        for action, body in (("take", {}), ("start", {}), ("note", {"note": "Fuse box 3"}),
                             ("resolve", {"note": "New lamp"}), ("close", {})):
            assert act(http, crew["a"], wo["id"], action, **body).status_code == 200
        wait_for(lambda: len(lights.requests) >= len(wanted), what="the lights team's deliveries")
        follow = http.get("/r/" + token, headers={"Accept-Language": "en"})
    got = [json.loads(r["body"]) for r in lights.requests]
    assert [g["event"] for g in got] == wanted                  # "note" was not subscribed to
    for request in lights.requests:
        standardwebhooks.Webhook(hook["secret"]).verify(request["body"], request["headers"])   # raises if not
        assert request["headers"][webhooks.H_EVENT] == json.loads(request["body"])["event"]
    assert [g["work_order"]["state"] for g in got] == ["assigned", "assigned", "in_progress", "resolved", "closed"]
    assert got[0]["work_order"]["asset_code"] == lamp["code"] and got[3]["work_order"]["resolution_note"] == "New lamp"
    assert "x@example.org" not in lights.requests[0]["body"].decode()        # no reporter's contact
    assert covers.requests == [] and other["id"] != hook["id"]
    steps = re.findall(r'data-step="(\w+)"', follow.text)
    assert steps == ["opened", "assigned", "take", "start", "resolve", "close"], steps
    assert "Fuse box 3" not in follow.text and crew["a_name"] not in follow.text and "lights-north" not in follow.text
    assert "The repair was checked and closed." in follow.text
