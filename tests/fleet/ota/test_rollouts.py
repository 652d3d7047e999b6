"""Rollouts through the real app (its lifespan runs the rollout engine): phases, thresholds, the
self-pause of a bad release, people's controls (audited), guards, the penalty, timeouts and
devices that are unreachable or turned away as busy (never failures), the update offer and the
signed download route with Range and ETag."""

import json
import time

import pytest

from fleet.core.config import Settings
from fleet.domain import audit
from fleet.ota import releases, rollouts
from fleetkit import enroll
from otakit import ADMIN, Board, firmware_release, publish, settle


@pytest.fixture
def settings(tmp_path):
    # the engine runs when poked (settle) or when a device reports, not by the clock
    return Settings(db=tmp_path / "fleet.db", status_interval_s=0.05, identity_ttl_s=5.0, ota_tick_s=3600.0)


@pytest.fixture
def release(tmp_path, trusted, db, settings):
    return publish(db, settings, firmware_release(tmp_path / "r2", trusted, "2.0.0"))


def boards(client, db, n):
    return [Board(client, enroll(client, db)) for _ in range(n)]


def plan(**kw):
    base = {"phases": [{"name": "canary", "count": 2}, {"name": "10%", "percent": 10}, {"name": "100%", "percent": 100}],
            "rate_per_min": 10000, "abort": {"failure_pct": 50, "min_devices": 1}}
    base.update(kw)
    return base


def states(db, rollout_id):
    return {d["device_id"]: d["state"] for d in rollouts.get_rollout(db, rollout_id)["devices"]}


def offered(fleet):
    return [b for b in fleet if b.offer() is not None]


def test_a_good_release_goes_canary_then_10_then_100_percent(client, db, release):
    fleet = boards(client, db, 40)
    for b in fleet:
        b.hello()
    r = rollouts.create(db, ADMIN, release["id"], plan=plan())
    settle(client)
    canary = offered(fleet)
    assert len(canary) == 2
    for b in canary:
        b.update()
    settle(client, 2)                                  # the canary decided, the next phase started
    second = offered(fleet)
    assert len(second) == 2                            # 10 % of 40 is 4, and the canary counts
    for b in second:
        b.update()
    settle(client, 2)
    rest = offered(fleet)
    assert len(rest) == 36
    for b in rest:
        b.update()
    settle(client)
    final = rollouts.get_rollout(db, r["id"])
    assert final["state"] == "completed", final
    assert [(p["name"], p["total"], p["succeeded"]) for p in final["phases"]] == [
        ("canary", 2, 2), ("10%", 2, 2), ("100%", 36, 36)]
    assert set(states(db, r["id"]).values()) == {"succeeded"} and len(final["devices"]) == 40
    assert all(b.fw == "2.0.0" for b in fleet)
    assert releases.get_release(db, release["id"])["devices"] == 40
    actions = [h["action"] for h in final["history"]]
    assert actions[0] == "started" and actions[-1] == "completed" and actions.count("phase_started") == 3


def test_a_bad_release_fails_the_canary_and_the_rollout_pauses_itself(client, db, release):
    fleet = boards(client, db, 10)
    for b in fleet:
        b.hello()
    r = rollouts.create(db, ADMIN, release["id"], plan=plan())
    settle(client)
    canary = offered(fleet)
    canary[0].update("rolled_back", "crash")
    settle(client)
    got = rollouts.get_rollout(db, r["id"])
    assert got["state"] == "paused" and "failed in phase canary" in got["reason"]
    # nobody else gets the offer; the canary that had not started loses it too
    assert offered(fleet) == []
    assert states(db, r["id"])[canary[0].id] == "rolled_back"
    assert [h["action"] for h in got["history"]][-1] == "paused"


def test_pause_resume_abort_by_a_person_are_audited_and_move_the_offers(client, db, release, admin_headers):
    fleet = boards(client, db, 4)
    for b in fleet:
        b.hello()
    res = client.post("/api/v1/ota/rollouts", headers=admin_headers,
                      json={"release_id": release["id"], "plan": plan(phases=[{"name": "all", "percent": 100}])})
    assert res.status_code == 201, res.text
    rid = res.json()["id"]
    settle(client)
    assert len(offered(fleet)) == 4
    assert client.post("/api/v1/ota/rollouts/%d/pause" % rid, headers=admin_headers,
                       json={"reason": "weekend"}).json()["state"] == "paused"
    assert offered(fleet) == []                       # not started: withdrawn
    again = client.post("/api/v1/ota/rollouts/%d/pause" % rid, headers=admin_headers)
    assert again.status_code == 409
    assert client.post("/api/v1/ota/rollouts/%d/resume" % rid, headers=admin_headers).json()["state"] == "running"
    assert len(offered(fleet)) == 4
    fleet[0].update()
    body = client.post("/api/v1/ota/rollouts/%d/abort" % rid, headers=admin_headers).json()
    assert body["state"] == "aborted"
    assert offered(fleet) == []
    assert {d["device_id"]: d["state"] for d in body["devices"]}[fleet[0].id] == "succeeded"
    assert sorted(d["state"] for d in body["devices"]) == ["cancelled"] * 3 + ["succeeded"]
    who = [(h["action"], h["actor"]) for h in body["history"] if h["action"] in ("started", "pause", "resume", "abort")]
    assert [a for a, _ in who] == ["started", "pause", "resume", "abort"] and all(":" in a for _, a in who)
    assert {e["action"] for e in audit.entries(db)} >= {"ota.rollout.start", "ota.rollout.pause",
                                                         "ota.rollout.resume", "ota.rollout.abort"}


def test_waiting_for_a_person_between_phases(client, db, release, admin_headers):
    fleet = boards(client, db, 3)
    for b in fleet:
        b.hello()
    r = rollouts.create(db, ADMIN, release["id"], plan=plan(
        phases=[{"name": "canary", "count": 1}, {"name": "all", "percent": 100}], success={"auto": False}))
    settle(client)
    for b in offered(fleet):
        b.update()
    settle(client)
    got = rollouts.get_rollout(db, r["id"])
    assert got["state"] == "waiting" and got["phase"] == 0 and "waiting for a person" in got["reason"]
    assert offered(fleet) == []
    client.post("/api/v1/ota/rollouts/%d/resume" % r["id"], headers=admin_headers)
    settle(client)
    got = rollouts.get_rollout(db, r["id"])
    assert got["state"] == "running" and got["phase"] == 1
    assert len(offered(fleet)) == 2


def test_a_call_button_with_an_open_alarm_is_not_offered_until_it_is_over(client, db, release):
    from fleet.care import alarms
    fleet = boards(client, db, 2)
    for b in fleet:
        b.hello()
    fleet[0].device.events([{"seq": 99, "t": int(time.time()), "type": "alarm", "data": {"ref": "a-1"}}])
    r = rollouts.create(db, ADMIN, release["id"], plan=plan(phases=[{"name": "all", "percent": 100}]))
    settle(client)
    assert [b.id for b in offered(fleet)] == [fleet[1].id]
    row = [d for d in rollouts.get_rollout(db, r["id"])["devices"] if d["device_id"] == fleet[0].id][0]
    assert (row["state"], row["reason"]) == ("waiting", "alarm_open")
    alarm_id = db.conn.execute("SELECT id FROM alarms WHERE device_id = ?", (fleet[0].id,)).fetchone()[0]
    from fleet.store.db import write_tx
    with write_tx(db):
        db.conn.execute("UPDATE alarms SET state = 'resolved', updated_at = ? WHERE id = ?",
                        ("2000-01-01T00:00:00.000Z", alarm_id))
    settle(client)
    assert len(offered(fleet)) == 2
    assert alarms.update_guard(db.conn, fleet[0].id, "call_button") is None


def test_five_failures_block_a_device_for_a_day(client, db, release, tmp_path, trusted, settings):
    b = boards(client, db, 1)[0]
    b.hello()
    for i in range(5):
        rel = release if i == 0 else publish(db, settings, firmware_release(tmp_path / ("f%d" % i), trusted, "2.0.%d" % (i + 1)))
        rollouts.create(db, ADMIN, rel["id"], plan=plan(phases=[{"name": "all", "percent": 100}],
                                                      abort={"failure_pct": 100, "min_devices": 5}))
        settle(client)
        b.update("failed", "disk_full")
    blocked = db.conn.execute("SELECT until, reason FROM ota_blocked WHERE device_id = ?", (b.id,)).fetchone()
    assert blocked is not None and "5 failures" in blocked[1]
    rel = publish(db, settings, firmware_release(tmp_path / "f9", trusted, "2.1.0"))
    r = rollouts.create(db, ADMIN, rel["id"], plan=plan(phases=[{"name": "all", "percent": 100}]))
    settle(client)
    assert b.offer() is None
    assert rollouts.get_rollout(db, r["id"])["devices"][0]["reason"].startswith("blocked until")


def test_timeouts_count_only_devices_that_were_reachable(client, db, release):
    fleet = boards(client, db, 3)
    for b in fleet:
        b.hello()
    r = rollouts.create(db, ADMIN, release["id"], plan=plan(phases=[{"name": "all", "percent": 100}],
                                                            device_timeout_s=60, abort={"failure_pct": 100, "min_devices": 9}))
    settle(client)
    stuck, busy, away = fleet
    offer = stuck.offer()
    stuck.send("downloading", offer, progress=10)
    busy.offer()
    client.app.state.fleet.services["ota"].turned_away(busy.id)      # the download route said 503
    # an hour later: `stuck` stopped answering; `busy` was turned away; `away` was never seen again
    from fleet.store.db import write_tx
    with write_tx(db):
        db.conn.execute("UPDATE ota_rollout_devices SET offered_at = '2000-01-01T00:00:00.000Z', "
                        "updated_at = '2000-01-01T00:00:00.000Z' WHERE rollout_id = ?", (r["id"],))
        db.conn.execute("UPDATE devices SET last_seen = '1999-01-01T00:00:00.000Z' WHERE id = ?", (away.id,))
    client.app.state.fleet.board.load(db)
    settle(client)
    got = states(db, r["id"])
    assert got[stuck.id] == "timed_out"
    assert got[busy.id] == "offered" and got[away.id] == "offered"
    assert db.conn.execute("SELECT count(*) FROM ota_failures").fetchone()[0] == 1


def test_a_rotation_rolled_out_again_reaches_only_the_devices_that_have_not_applied_it(client, db, settings, tmp_path,
                                                                                     keys, trusted):
    def rotation(seq):
        releases.build_rotation(tmp_path / ("keys-%d" % seq), seq, [keys["b"][1]], [], 86400)
        releases.sign(tmp_path / ("keys-%d" % seq), trusted)
        return publish(db, settings, tmp_path / ("keys-%d" % seq))

    older, rot = rotation(1), rotation(2)
    fleet = boards(client, db, 3)
    for b in fleet:
        b.hello()
    everyone = plan(phases=[{"name": "all", "percent": 100}])
    first = rollouts.create(db, ADMIN, rot["id"], plan=everyone)
    settle(client)
    applied, away = fleet[:2], fleet[2]                # `away` was off: never saw its offer
    offers = [b.offer() for b in applied]              # both take it before either reports
    assert [(o["id"], o["kind"], "url" in o) for o in offers] == [("keys-2", "keys", False)] * 2
    assert "add" in applied[0].fetch(offers[0]["manifest"]).json()["manifest"]
    for b, offer in zip(applied, offers):
        b.send("succeeded", offer)                     # a board applies a rotation at its manifest
    settle(client)
    assert rollouts.get_rollout(db, first["id"])["state"] == "completed"
    assert states(db, first["id"]) == {applied[0].id: "succeeded", applied[1].id: "succeeded", away.id: "offered"}
    # the finished rotation's offer stands for `away` alone: it catches up when it is back
    assert away.offer()["id"] == "keys-2"
    assert [b.offer() for b in applied] == [None, None]
    # the same rotation again: only `away` (a board says nothing to an offer it carried out already)
    second = rollouts.create(db, ADMIN, rot["id"], plan=everyone)
    settle(client)
    assert states(db, second["id"]) == {away.id: "offered"}
    assert [b.offer() for b in applied] == [None, None]
    away.send("succeeded", away.offer())
    settle(client)
    assert rollouts.get_rollout(db, second["id"])["state"] == "completed"
    # an older rotation goes to nobody who applied a newer one (the board would refuse it: not_newer)
    third = rollouts.create(db, ADMIN, older["id"], plan=everyone)
    settle(client)
    assert states(db, third["id"]) == {} and rollouts.get_rollout(db, third["id"])["state"] == "completed"


def test_a_device_off_during_a_completed_rotation_catches_up_when_it_is_back(client, db, settings, tmp_path,
                                                                             keys, trusted, release):
    releases.build_rotation(tmp_path / "keys-1", 1, [keys["b"][1]], [], 86400)
    releases.sign(tmp_path / "keys-1", trusted)
    rot = publish(db, settings, tmp_path / "keys-1")
    fleet = boards(client, db, 3)
    for b in fleet:
        b.hello()
    everyone = plan(phases=[{"name": "all", "percent": 100}])
    r = rollouts.create(db, ADMIN, rot["id"], plan=everyone)
    settle(client)
    on, away = fleet[:2], fleet[2]
    for b in on:
        b.send("succeeded", b.offer())
    settle(client)
    assert rollouts.get_rollout(db, r["id"])["state"] == "completed"
    # back days later: the rotation is offered without anyone rolling it out again
    offer = away.offer()
    assert offer["id"] == "keys-1" and offer["kind"] == "keys"
    away.send("succeeded", offer)
    settle(client)
    assert states(db, r["id"])[away.id] == "succeeded" and away.offer() is None
    # a release's finished rollout does not stand like that: a person rolls it out again
    app = rollouts.create(db, ADMIN, release["id"], plan=everyone)
    settle(client)
    assert [b.offer()["id"] for b in on] == [release["id"]] * 2     # seen since the offer: waited for
    for b in on:
        b.update()
    settle(client)
    assert rollouts.get_rollout(db, app["id"])["state"] == "completed"
    assert states(db, app["id"])[away.id] == "offered" and away.offer() is None


def test_the_offer_and_the_download_route(client, db, release):
    b = boards(client, db, 1)[0]
    b.hello()
    rollouts.create(db, ADMIN, release["id"], plan=plan(phases=[{"name": "all", "percent": 100}]))
    settle(client)
    offer = b.offer()
    assert set(offer) == {"id", "kind", "version", "gate_s", "manifest", "size", "sha256", "url"}
    assert offer["url"].startswith("/ota/dl/") and "?d=%s&" % b.id in offer["url"]
    env = b.fetch(offer["manifest"]).json()
    assert json.loads(env["manifest"])["sha256"] == offer["sha256"]
    whole = b.fetch(offer["url"])
    assert whole.status_code == 200 and whole.headers["etag"] == '"%s"' % offer["sha256"]
    assert whole.headers["accept-ranges"] == "bytes"
    part = b.fetch(offer["url"], {"Range": "bytes=1000-", "If-Range": whole.headers["etag"]})
    assert part.status_code == 206 and part.content == whole.content[1000:]
    assert part.headers["content-range"] == "bytes 1000-%d/%d" % (offer["size"] - 1, offer["size"])
    changed = b.fetch(offer["url"], {"Range": "bytes=1000-", "If-Range": '"something else"'})
    assert changed.status_code == 200 and changed.content == whole.content
    # the query is the credential: another device's, a changed one or an expired one is refused
    assert b.fetch(offer["url"].replace(b.id, "cb-0000000000")).status_code == 403
    assert b.fetch(offer["url"][:-4] + "0000").status_code == 403
    assert b.fetch(offer["url"].split("?")[0]).status_code == 403


def test_busy_downloads_are_turned_away_without_counting_against_the_device(client, db, release, settings):
    b = boards(client, db, 1)[0]
    b.hello()
    rollouts.create(db, ADMIN, release["id"], plan=plan(phases=[{"name": "all", "percent": 100}]))
    settle(client)
    offer = b.offer()
    service = client.app.state.fleet.services["ota"]
    service.active = settings.ota_max_downloads          # as if that many were being served
    try:
        busy = b.fetch(offer["url"])
    finally:
        service.active = 0
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5" and busy.json()["error"]["code"] == "busy"
    assert b.id in service.engine.busy


def test_bad_plans_say_what_is_wrong(db, release):
    for bad, words in (({"phases": []}, "at least one phase"), ({"phases": [{"name": "x"}]}, "one of devices"),
                       ({"phases": [{"name": "a", "percent": 50}, {"name": "b", "percent": 10}]}, "only grow"),
                       ({"windows": [{"cron": "every night"}]}, "cron"), ({"rate_per_min": 0}, "rate_per_min"),
                       ({"abort": {"types": ["exploded"]}}, "abort.types"), ({"colour": 1}, "unknown plan")):
        with pytest.raises(Exception, match=words):
            rollouts.create(db, ADMIN, release["id"], plan=bad)


def test_a_rollout_with_tags_reaches_only_devices_with_all_of_them(client, db, release, admin_headers):
    from fleet.domain import tags
    fleet = boards(client, db, 6)
    for b in fleet:
        b.hello()
    both, pilot_only, floor_only = fleet[:2], fleet[2], fleet[3]
    for b in both:
        tags.set_tags(db, ADMIN, b.id, ["pilot", "floor-3", "spare"])
    tags.set_tags(db, ADMIN, pilot_only.id, ["pilot"])
    tags.set_tags(db, ADMIN, floor_only.id, ["floor-3"])
    response = client.post("/api/v1/ota/rollouts", headers=admin_headers, json={
        "release_id": release["id"], "target": {"tags": ["pilot", "floor-3"]},
        "plan": plan(phases=[{"name": "all", "percent": 100}])})
    assert response.status_code == 201, response.text
    r = response.json()
    assert r["target"] == {"tags": ["floor-3", "pilot"]}
    settle(client)
    assert sorted(b.id for b in offered(fleet)) == sorted(b.id for b in both)
    for b in both:
        b.update()
    settle(client)
    final = rollouts.get_rollout(db, r["id"])
    assert final["state"] == "completed" and sorted(states(db, r["id"])) == sorted(b.id for b in both)
    assert [b.fw for b in fleet] == ["2.0.0", "2.0.0"] + ["1.29.0"] * 4


def test_the_command_line_targets_tags(db, release, settings):
    from click.testing import CliRunner
    from fleet import cli

    def run(*args):
        return CliRunner().invoke(cli.main, list(args) + ["--db", str(settings.db)], catch_exceptions=False)
    started = run("rollout", "start", release["id"], "--tag", "pilot,floor-3", "--role", "call_button")
    assert started.exit_code == 0, started.output
    rid = int(started.output.split()[1])
    assert rollouts.get_rollout(db, rid)["target"] == {"roles": ["call_button"], "tags": ["floor-3", "pilot"]}
    assert "target: roles call_button; tags floor-3,pilot" in run("rollout", "show", str(rid)).output
    bad = run("rollout", "start", release["id"], "--tag", "Pilot")
    assert bad.exit_code == 1 and "target.tags: 'Pilot' is not a tag" in bad.output


def test_bad_targets_say_what_is_wrong(db, release):
    for bad, words in (({"tags": ["Floor 3"]}, "target.tags: 'Floor 3' is not a tag"),
                       ({"tags": ["t%d" % i for i in range(17)]}, "at most 16"), ({"tags": "pilot"}, "list of names"),
                       ({"colour": ["red"]}, "the target takes roles, boards, sites, versions, devices, tags")):
        with pytest.raises(Exception, match=words):
            rollouts.create(db, ADMIN, release["id"], target=bad)


def test_with_a_mirror_the_artifact_url_points_there_and_the_mirror_can_check_it(tmp_path, trusted, keys):
    from urllib.parse import parse_qs, urlsplit
    from fastapi.testclient import TestClient
    from fleet.main import create_app
    from fleet.ota import urls
    from fleet.schema import open_db
    s = Settings(db=tmp_path / "m.db", ota_tick_s=3600.0, ota_mirror_url="https://mirror.example/ota",
                 ota_url_secret="a mirror's shared secret, 32 chars")
    db = open_db(s.db)
    releases.trust_key(db, ADMIN, keys["a"][1])
    rel = publish(db, s, firmware_release(tmp_path / "r", trusted, "2.0.0"))
    with TestClient(create_app(s)) as client:
        b = Board(client, enroll(client, db))
        b.hello()
        rollouts.create(db, ADMIN, rel["id"], plan=plan(phases=[{"name": "all", "percent": 100}]))
        settle(client)
        offer = b.offer()
    db.close()
    url = urlsplit(offer["url"])
    assert "%s://%s%s" % (url.scheme, url.netloc, url.path) == "https://mirror.example/ota/" + rel["file"]
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert urls.check(s.ota_url_secret.encode(), rel["file"], query) == b.id
    assert urls.check(s.ota_url_secret.encode(), "other.bin", query) is None
    assert urls.check(b"another secret", rel["file"], query) is None
    assert offer["manifest"].startswith("/ota/dl/")            # the signed manifest stays on the fleet


def test_shutting_down_waits_for_the_engine_pass_under_way(settings, db, monkeypatch):
    # A pass runs in a thread on the service's own connection. Stopping cancelled the task and
    # closed the connection under the running pass: sqlite3 segfaulted a test process so.
    import threading

    from fastapi.testclient import TestClient

    from fleet.main import create_app
    from fleet.ota import service as ota_service

    order, started = [], threading.Event()
    tick = ota_service.OtaService._tick

    def slow_tick(self):
        started.set()
        time.sleep(0.5)                 # the pass is under way when the app stops
        out = tick(self)                # and uses the connection after that
        order.append("pass done")
        return out

    monkeypatch.setattr(ota_service.OtaService, "_tick", slow_tick)
    with TestClient(create_app(settings)) as client:
        rt = client.app.state.fleet
        service = rt.services["ota"]
        close = service.db.close
        service.db = _Closing(service.db, lambda: (order.append("closed"), close()))
        rt.loop.call_soon_threadsafe(service.poke)
        assert started.wait(10)
    assert order == ["pass done", "closed"]


class _Closing:
    """A connection whose close() is recorded."""

    def __init__(self, conn, on_close):
        self._conn, self._on_close = conn, on_close

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def close(self):
        self._on_close()
