"""OTA on virtual boards against a real fleet (docs/ota.md): signed app releases rolled out in
phases to running firmware, the health gate, rollbacks that say why, power cuts mid-update."""

import json
import time

import pytest

from hil_tests.otahil import (ReleaseKit, app_versions, post_release, rollout, start_rollout, trust, upload,
                              wait_rollout)
from hil_tests.plugin import enrolled
from hil_tests.polling import wait_until

MAINS = dict(role="call_button", power="mains")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return ReleaseKit(tmp_path_factory.mktemp("ota-release"))


def provision(make_board, kit, name, **config):
    b = make_board(name, start=False, **dict(MAINS, **config))
    b.deploy(kit.key_files())
    b.start()
    return b


def ota_events(fleet, device_id):
    return [e["data"] for e in reversed(fleet.events(device_id, type="ota"))]


FLEET_SIZE = 50


@pytest.mark.long
@pytest.mark.needs("many", "files")
def test_a_good_release_reaches_fifty_boards_through_canary_10_and_100_percent(make_board, fleet, kit):
    trust(fleet, kit)
    rel = upload(fleet, kit.build("0.2.0"))
    boards = [provision(make_board, kit, "b%02d" % i) for i in range(FLEET_SIZE)]
    wait_until(lambda: len([d for d in fleet.devices(limit=1000) if d["status"] == "online"]) == FLEET_SIZE,
               "all %d boards online" % FLEET_SIZE, 120)
    r = start_rollout(fleet, rel["id"], phases=[{"name": "canary", "count": 2}, {"name": "10%", "percent": 10},
                                                {"name": "100%", "percent": 100}])
    done = wait_rollout(fleet, r["id"], ("completed", "paused"), 240)
    assert done["state"] == "completed", (done["reason"], done["phases"])
    assert [(p["name"], p["total"], p["succeeded"]) for p in done["phases"]] == [
        ("canary", 2, 2), ("10%", 3, 3), ("100%", 45, 45)]
    assert set(app_versions(fleet).values()) == {"0.2.0"}
    history = [h["action"] for h in done["history"]]
    assert history[0] == "started" and history.count("phase_started") == 3 and history[-1] == "completed"
    # one board's way, on its console and in its events
    b = boards[0]
    b.expect(r"ota: app-0.2.0 installed \(b\), rebooting into it", timeout=5, since=0)
    b.expect(r"boot: slot=b app=0.2.0", timeout=5)
    b.expect(r"ota: app-0.2.0 confirmed", timeout=5)
    dev = fleet.device_by_hw(b.hw_id)
    stages = [e["stage"] for e in ota_events(fleet, dev["id"])]
    assert stages[0] == "downloading" and stages[-4:] == ["verifying", "installed", "pending", "succeeded"], stages
    assert (dev["slot"], dev["app"]) == ("b", "0.2.0")


@pytest.mark.needs("many", "files")
def test_a_bad_release_fails_the_canary_pauses_itself_and_the_canary_rolls_back(make_board, fleet, kit):
    trust(fleet, kit)
    boards = [provision(make_board, kit, "b%d" % i) for i in range(6)]
    devs = [enrolled(b, fleet)["id"] for b in boards]
    canary = devs[:2]
    # the release crashes at boot on the canary's boards only ("on some boards")
    bad = kit.build("0.3.0", firmware_dir=kit.broken_firmware("crash-canary", "cfg.get('device_id') in %r" % (
        tuple(canary),)))
    rel = upload(fleet, bad)
    r = start_rollout(fleet, rel["id"], phases=[{"name": "canary", "devices": canary}, {"name": "100%", "percent": 100}],
                      abort={"failure_pct": 50, "min_devices": 1})
    for b in boards[:2]:
        b.expect(r"broken release: crashes at boot", timeout=60)
        b.expect(r"boot: slot b failed 3 boots, fell back to a", timeout=90)
        b.expect(r"ota: app-0.3.0 rolled back before it ran", timeout=30)
    paused = wait_rollout(fleet, r["id"], ("paused",), 60)
    assert "failed in phase canary" in paused["reason"]
    # the first failure pauses the rollout (50 % of two); the second board's report may come later
    both = {canary[0]: ("rolled_back", "crash"), canary[1]: ("rolled_back", "crash")}
    paused = wait_until(lambda: (lambda r: r if {d["device_id"]: (d["state"], d["reason"])
                                                  for d in r["devices"]} == both else None)(rollout(fleet, r["id"])),
                        "both canary boards reported rolled back", 60)
    assert paused["state"] == "paused"
    versions = app_versions(fleet)
    assert {versions[d] for d in devs} == {"0.1.0"}, versions          # the canary back, the rest untouched
    for d in canary:
        last = ota_events(fleet, d)[-1]
        assert (last["stage"], last["reason"], last["version"]) == ("rolled_back", "crash", "0.1.0")
    for b in boards[2:]:
        assert "ota:" not in b.console_text(0)                        # never offered


@pytest.mark.needs("link", "files")
def test_an_update_that_cannot_reach_the_fleet_after_the_switch_rolls_back(make_board, fleet, kit):
    trust(fleet, kit)
    rel = upload(fleet, kit.build("0.2.0"))
    b = provision(make_board, kit, "dut")
    dev = enrolled(b, fleet)
    r = start_rollout(fleet, rel["id"], phases=[{"name": "all", "percent": 100}], gate_s=10)
    b.expect(r"ota: app-0.2.0 installed", timeout=60)
    b.link(False)                                     # the new version never reaches the fleet
    b.expect(r"boot: slot=b app=0.2.0", timeout=30)
    b.expect(r"failed its health gate \(no_fleet\): rolling back", timeout=40)
    b.expect(r"boot: slot=a app=0.1.0", timeout=30)
    b.link(True)
    wait_until(lambda: [e for e in ota_events(fleet, dev["id"]) if e["stage"] == "rolled_back"], "the rollback reported", 60)
    last = ota_events(fleet, dev["id"])[-1]
    assert (last["stage"], last["reason"], last["version"]) == ("rolled_back", "no_fleet", "0.1.0")
    assert app_versions(fleet)[dev["id"]] == "0.1.0"
    assert [d["state"] for d in wait_rollout(fleet, r["id"], ("paused", "completed"), 30)["devices"]] == ["rolled_back"]


@pytest.mark.needs("files")
def test_a_full_firmware_image_goes_to_the_next_partition_and_is_marked_valid(make_board, fleet, kit):
    trust(fleet, kit)
    rel = upload(fleet, kit.build_image("1.30.0", ["virtual-ota"]))
    b = make_board("fw", start=False, board="virtual-ota", **MAINS)
    b.deploy(kit.key_files())
    b.start()
    dev = enrolled(b, fleet)
    assert dev["fw"] == "1.29.0" and dev["board"] == "virtual-ota"
    r = start_rollout(fleet, rel["id"], phases=[{"name": "all", "percent": 100}])
    b.expect(r"ota: firmware-1.30.0 installed \(ota_1\)", timeout=90)
    b.expect(r"ota: firmware-1.30.0 confirmed", timeout=60)
    done = wait_rollout(fleet, r["id"], ("completed", "paused"), 60)
    assert [d["state"] for d in done["devices"]] == ["succeeded"], done["devices"]
    assert fleet.device(dev["id"])["fw"] == "1.30.0"
    assert [e["stage"] for e in ota_events(fleet, dev["id"])][-2:] == ["pending", "succeeded"]
    assert b.boots()[-1]["app_partition"] == "ota_1"
    b.reset()                                          # marked valid: it stays after any reset
    b.expect(r"hello ok", timeout=60)
    assert b.boots()[-1]["app_partition"] == "ota_1"


def trust_state(board):
    return json.loads(board.read_file("/state/trust.json"))


def has_file(board, path):
    try:
        board.read_file(path)
    except Exception:
        return False
    return True


@pytest.mark.needs("many", "power", "files")
def test_a_key_rotation_rolls_out_then_only_the_new_key_updates_the_boards(make_board, fleet, kit, tmp_path):
    """The release key rotated on running boards (docs/ota.md "Rotation and revocation"): a `keys`
    manifest signed with the trusted key adds a new key and revokes the old one; releases signed
    with the new key then update the boards, and the old key is refused. A board that was off
    during the rotation's rollout gets it when it is back (the completed rotation's offer stands)."""
    new = ReleaseKit(tmp_path / "new-key")
    trust(fleet, kit)
    boards = [provision(make_board, kit, "k%d" % i) for i in range(4)]
    devs = [enrolled(b, fleet)["id"] for b in boards]
    on, off = boards[:3], boards[3]
    off.power_cut()                                    # off for the whole of the rotation's rollout

    # 1. the rotation, signed with the old key: the fleet follows it at upload
    rot = upload(fleet, kit.rotation(2, add=[new], revoke=[kit.kid]))
    assert (rot["id"], rot["kind"], rot["key_id"]) == ("keys-2", "keys", kit.kid)
    keys = {k["id"]: k for k in fleet.api("GET", "/api/v1/ota/keys")}
    assert keys[kit.kid]["revoked_at"] and not keys[new.kid]["revoked_at"]
    r1 = start_rollout(fleet, rot["id"], phases=[{"name": "all", "percent": 100}])
    for b in on:
        b.expect(r"ota: keys-2: keys rotated", timeout=60)
    done = wait_rollout(fleet, r1["id"], ("completed", "paused"), 60)
    assert done["state"] == "completed", (done["reason"], done["devices"])
    # the board that was off is not waited for (unreachable); a board's report may land after the
    # rollout completed (until it reports, a board that took its offer looks unreachable too)
    want = dict({d: "succeeded" for d in devs[:3]}, **{devs[3]: "offered"})
    wait_until(lambda: {d["device_id"]: d["state"] for d in rollout(fleet, r1["id"])["devices"]} == want,
               "the three boards' reports", 30)
    for b, d in zip(on, devs):
        assert [(e["stage"], e.get("reason")) for e in ota_events(fleet, d)] == [("succeeded", None)], b.name
        st = trust_state(b)
        assert (st["kseq"], st["revoked"]) == (2, [kit.kid]), (b.name, st)
        assert b.read_file("/keys/%s.rsa" % new.kid) == new.modulus
        assert not has_file(b, "/keys/%s.rsa" % kit.kid), b.name
    assert not has_file(off, "/state/trust.json") and has_file(off, "/keys/%s.rsa" % kit.kid)

    # the board that was off comes back: the completed rotation's offer stands for it, and it
    # catches up with nobody rolling anything out again
    mark = off.mark()
    off.start()
    off.expect(r"ota: keys-2: keys rotated", timeout=60)
    wait_until(lambda: {d["device_id"]: d["state"] for d in rollout(fleet, r1["id"])["devices"]}[devs[3]] == "succeeded",
               "the returning board's report", 30)
    # the same rotation rolled out again finds nobody left to take it
    r2 = start_rollout(fleet, rot["id"], phases=[{"name": "all", "percent": 100}])
    again = wait_rollout(fleet, r2["id"], ("completed", "paused"), 60)
    assert again["state"] == "completed" and again["devices"] == [], again["devices"]
    assert (trust_state(off)["kseq"], trust_state(off)["revoked"]) == (2, [kit.kid])
    assert not has_file(off, "/keys/%s.rsa" % kit.kid)
    assert [b.console_text(0).count("keys rotated") for b in on] == [1, 1, 1]          # not offered again
    assert off.console_text(mark).count("keys rotated") == 1

    # 2. a release signed with the new key reaches every board
    rel = upload(fleet, new.build("0.2.0"))
    assert rel["key_id"] == new.kid
    r3 = start_rollout(fleet, rel["id"], phases=[{"name": "all", "percent": 100}])
    done = wait_rollout(fleet, r3["id"], ("completed", "paused"), 120)
    assert done["state"] == "completed", (done["reason"], done["devices"])
    assert {d["device_id"]: d["state"] for d in done["devices"]} == {d: "succeeded" for d in devs}
    assert {app_versions(fleet)[d] for d in devs} == {"0.2.0"}

    # 3. the old key is revoked: the fleet refuses its releases (the boards would refuse them too,
    # `revoked_key`), and will not be told to trust it again
    refused = post_release(fleet, kit.build("0.3.0"))
    assert refused.status_code == 422 and "revoked_key" in refused.text, (refused.status_code, refused.text)
    with fleet.client() as c:
        again = c.post("/api/v1/ota/keys", json={"pem": kit.public.decode()})
    assert again.status_code == 409, again.text
    assert [r["id"] for r in fleet.api("GET", "/api/v1/ota/releases")] == ["app-0.2.0", "keys-2"]
    assert {app_versions(fleet)[d] for d in devs} == {"0.2.0"}


CUT_BOARDS = 10


@pytest.mark.needs("many", "power", "flash_cut", "files")
def test_power_cuts_at_random_moments_of_an_update_brick_no_board(make_board, fleet, kit, hil_log_dir):
    import os
    import random
    seed = int(os.environ.get("HIL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    trust(fleet, kit)
    rel = upload(fleet, kit.build("0.2.0"))
    boards = [provision(make_board, kit, "c%02d" % i) for i in range(CUT_BOARDS)]
    devs = {b.name: enrolled(b, fleet)["id"] for b in boards}
    # Each board loses power just before a random flash operation: from the rollout's start and
    # again from the start of its update boot (an update is ~1,300 of them up to its reboot: the
    # download, the install, the slot switch),
    # or, for about a third, early in the first boot of the new slot (armed once it runs).
    plan = {b.name: ("first_boot", rng.randint(1, 8)) if rng.random() < 0.35 else ("update", rng.randint(1, 1300))
            for b in boards}
    (hil_log_dir / "cuts.txt").write_text("HIL_SEED=%d\n%s\n" % (seed, json.dumps(plan, indent=1)))
    print("HIL_SEED=%d (replay: HIL_SEED=%d pytest hil_tests -k power_cuts)" % (seed, seed))
    marks = {b.name: b.mark() for b in boards}
    for b in boards:
        if plan[b.name][0] == "update":
            b.power_cut(after_flash_ops=plan[b.name][1])
    r = start_rollout(fleet, rel["id"], phases=[{"name": "all", "percent": 100}],
                      abort={"failure_pct": 100, "min_devices": 100})
    cut, armed, settled, ub_seen = set(), set(), set(), {}
    deadline = time.monotonic() + 150
    while len(settled) < CUT_BOARDS and time.monotonic() < deadline:
        for b in boards:
            text = b.console_text(marks[b.name])
            # an update runs in update boots (docs/ota.md: one fetches the envelope, the next
            # verifies it and installs): a cut armed before is lost with the firmware's own reset
            # into each, so it is armed again whenever an update boot starts
            n = text.count("otaboot: update boot for")
            if b.name not in cut and plan[b.name][0] == "update" and n > ub_seen.get(b.name, 0):
                try:
                    b.power_cut(after_flash_ops=plan[b.name][1])
                except Exception:
                    pass
                else:
                    ub_seen[b.name] = n
            if b.name not in armed and plan[b.name][0] == "first_boot" and "boot: slot=b" in text:
                try:
                    b.power_cut(after_flash_ops=plan[b.name][1])
                except Exception:
                    pass                                   # between processes: the next look arms it
                else:
                    armed.add(b.name)
            if b.name not in cut and b.state == "off":
                cut.add(b.name)
                time.sleep(rng.uniform(0.1, 1.0))
                b.start()                                  # the power comes back
            elif " confirmed: " in text and b.state != "off":     # otagate's (the update boot's
                settled.add(b.name)                                 # hello logs "slot a confirmed")
        time.sleep(0.2)
    print("cut %d of %d boards: %s" % (len(cut), CUT_BOARDS, sorted(cut)))
    done = wait_rollout(fleet, r["id"], ("completed", "paused"), 180)
    versions = app_versions(fleet)
    outcome = {b.name: (plan[b.name], b.name in cut, versions[devs[b.name]],
                        [d["state"] for d in done["devices"] if d["device_id"] == devs[b.name]]) for b in boards}
    (hil_log_dir / "outcome.txt").write_text(json.dumps(outcome, indent=1))
    for b in boards:
        assert versions[devs[b.name]] in ("0.1.0", "0.2.0"), (b.name, outcome[b.name])   # a signed version
        assert b.state != "off" and "cannot start" not in b.console_text(0)[-4000:], b.name
    # every board answers: none bricked; a board the cut sent back says so and gets there later
    assert done["state"] == "completed", (seed, done["reason"], outcome)
    assert all(v == "0.2.0" for v in versions.values()), (seed, outcome)
    assert len(cut) >= CUT_BOARDS // 2, (seed, outcome)            # the cuts did happen
