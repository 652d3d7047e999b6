"""OTA on virtual boards against a real fleet (docs/ota.md): signed app releases rolled out in
phases to running firmware, the health gate, rollbacks that say why, power cuts mid-update."""

import pytest

from hil_tests.otahil import ReleaseKit, app_versions, start_rollout, trust, upload, wait_rollout
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


def test_one_board_updates_through_the_gate(make_board, fleet, kit):
    trust(fleet, kit)
    rel = upload(fleet, kit.build("0.2.0"))
    b = provision(make_board, kit, "dut")
    dev = enrolled(b, fleet)
    r = start_rollout(fleet, rel["id"], phases=[{"name": "all", "percent": 100}])
    b.expect(r"ota: app-0.2.0 installed \(b\)", timeout=90)
    b.expect(r"boot: slot=b app=0.2.0", timeout=30)
    b.expect(r"ota: app-0.2.0 confirmed", timeout=60)
    done = wait_rollout(fleet, r["id"], ("completed",), 60)
    assert [d["state"] for d in done["devices"]] == ["succeeded"]
    assert app_versions(fleet)[dev["id"]] == "0.2.0"
    stages = [e["data"]["stage"] for e in reversed(fleet.events(dev["id"], type="ota"))]
    assert stages[0] == "downloading" and stages[-3:] == ["installed", "pending", "succeeded"], stages


FLEET_SIZE = 50


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
    for b in boards[:3]:
        b.expect(r"ota: app-0.2.0 confirmed", timeout=5)
