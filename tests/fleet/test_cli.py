"""The `fleet` command line, through click's runner (and `fleet demo` as a real process)."""

import csv
import io
import json
import os
import re
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from fleet import cli, demo
from fleet.domain import audit, users
from fleetkit import enroll, heartbeat


@pytest.fixture
def run(settings, db):
    runner = CliRunner()

    def invoke(*args, input=None, ok=True):
        result = runner.invoke(cli.main, list(args) + ["--db", str(settings.db)], input=input,
                               catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return invoke


def test_init_admin_once(run, db):
    first = run("init-admin", "--username", "root")
    password = re.search(r"password: (\S+)", first.output).group(1)
    assert users.authenticate(db, "root", password)["role"] == "admin"
    again = run("init-admin", ok=False)
    assert again.exit_code == 1 and "already exists" in again.output


def test_users(run, db):
    run("user", "add", "carla", "--role", "caregiver", "--password", "a very long pw")
    generated = run("user", "add", "tom", "--role", "technician")
    assert re.search(r"password: \S{12,}", generated.output)
    listed = run("user", "list", "--json")
    assert [(u["username"], u["role"]) for u in json.loads(listed.output)] == [("carla", "caregiver"),
                                                                                ("tom", "technician")]
    assert "carla" in run("user", "list").output
    run("user", "passwd", "carla", input="another long pw\nanother long pw\n")
    assert users.authenticate(db, "carla", "another long pw")
    bad = run("user", "add", "xy", "--role", "caregiver", "--password", "short", ok=False)
    assert bad.exit_code == 1 and "at least" in bad.output
    bad_role = run("user", "add", "y", "--role", "pilot", ok=False)
    assert bad_role.exit_code == 2


def test_api_tokens(run, client):
    run("user", "add", "tom", "--role", "technician", "--password", "a very long pw")
    created = run("token", "create", "--user", "tom", "--name", "laptop")
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("ft_")
    assert client.get("/api/v1/devices", headers={"Authorization": "Bearer " + token}).status_code == 200
    listed = run("token", "list", "--json")
    [entry] = json.loads(listed.output)
    assert entry["name"] == "laptop" and token not in listed.output
    run("token", "revoke", str(entry["id"]))
    assert client.get("/api/v1/devices", headers={"Authorization": "Bearer " + token}).status_code == 401
    assert run("token", "revoke", "999", ok=False).exit_code == 1


def test_enrollment_tokens(run, client):
    created = run("enroll-token", "create", "--role", "smart_bin", "--site", "yard", "--expires", "2h", "--count", "3")
    tokens = re.findall(r"^(et_\S+)", created.output, re.M)
    assert len(tokens) == 3
    body = {"token": tokens[0], "hw_id": "a4cf12345678", "role": "smart_bin", "board": "esp32-devkitc"}
    assert client.post("/api/v1/device/enroll", json=body).status_code == 201
    states = [t["state"] for t in json.loads(run("enroll-token", "list", "--json").output)]
    assert sorted(states) == ["used", "valid", "valid"]
    assert "valid" in run("enroll-token", "list", "--state", "valid").output
    as_json = json.loads(run("enroll-token", "create", "--json").output)
    assert as_json[0]["token"].startswith("et_") and as_json[0]["state"] == "valid"
    assert run("enroll-token", "create", "--expires", "soon", ok=False).exit_code == 2


def test_devices_revoke_and_rotate(run, client, db):
    device = enroll(client, db)
    listed = json.loads(run("device", "list", "--json").output)
    assert [d["id"] for d in listed] == [device.id]
    rotated = run("device", "rotate", device.id)
    secret = rotated.output.strip().splitlines()[-1]
    assert len(secret) == 64 and secret != device.secret
    run("device", "revoke", device.id, "--reason", "lost")
    assert "revoked" in run("device", "list", "--status", "revoked").output
    assert run("device", "revoke", device.id, ok=False).exit_code == 1
    actions = [e["action"] for e in audit.entries(db)]
    assert "device.rotate" in actions and "device.revoke" in actions
    assert audit.entries(db, action="device.revoke")[0]["actor"].startswith("cli:")


def test_export(run, client, db, tmp_path):
    device = enroll(client, db)
    device.events([heartbeat(1, battery_v=3.1), heartbeat(2)])
    out = tmp_path / "events.csv"
    run("export", "events", "--out", str(out))
    rows = list(csv.DictReader(out.open()))
    assert [(r["device_id"], r["seq"], r["type"]) for r in rows] == [(device.id, "1", "heartbeat"),
                                                                      (device.id, "2", "heartbeat")]
    assert json.loads(rows[0]["data"]) == {"battery_v": 3.1}
    devices_csv = run("export", "devices", "--out", "-").output
    [row] = list(csv.DictReader(io.StringIO(devices_csv)))
    assert row["id"] == device.id and "secret" not in devices_csv.lower()


def test_duration_parsing():
    assert [cli.parse_duration(x) for x in ("90", "30m", "24h", "7d", "15s")] == [90, 1800, 86400, 604800, 15]


def test_demo_prints_login_and_serves(tmp_path):
    env = dict(os.environ, FLEET_LOG_LEVEL="warning", VBOARD_HOME=str(tmp_path / "vboards"))
    proc = subprocess.Popen([sys.executable, "-m", "fleet.cli", "demo", "--port", "0", "--db",
                             str(tmp_path / "demo.db")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Virtual fleet" in line:
                break
        text = "".join(lines)
        url = re.search(r"Open\s+(http://\S+)/", text).group(1)
        user, password = re.search(r"Log in\s+(\S+) / (\S+)", text).groups()
        response = httpx.post(url + "/api/v1/auth/login", json={"username": user, "password": password},
                              headers={"Origin": url})
        assert response.status_code == 200 and response.json()["role"] == "admin"
    finally:
        proc.terminate()
        proc.wait(10)


def test_token_factory_mints_bound_tokens(settings, db):
    factory = demo.make_token_factory(settings)
    token = factory(role="call_button", board="virtual")
    row = db.conn.execute("SELECT role, board, used_at FROM enrollment_tokens").fetchone()
    assert token.startswith("et_") and row == ("call_button", "virtual", None)


@pytest.mark.parametrize("command", [["alarm", "list"], ["device", "list"], ["user", "list"], ["webhook", "list"],
                                     ["export", "devices", "--out", "-"], ["device", "revoke", "cb-1"]])
def test_a_missing_database_is_named_and_never_created(tmp_path, command):
    missing = tmp_path / "nowhere" / "fleet.db"
    result = CliRunner().invoke(cli.main, command + ["--db", str(missing)])
    assert result.exit_code == 1
    assert "no fleet database at %s (given with --db); nothing was created" % missing in result.output
    assert not missing.exists() and not missing.parent.exists()
    from_env = CliRunner().invoke(cli.main, command, env={"FLEET_DB": str(missing)})
    assert from_env.exit_code == 1 and "(from FLEET_DB)" in from_env.output and not missing.exists()


def test_the_databases_beside_the_missing_one_are_named(tmp_path):
    (tmp_path / "demo.db").touch()
    result = CliRunner().invoke(cli.main, ["alarm", "list", "--db", str(tmp_path / "fleet.db")])
    assert "Databases in %s: demo.db." % tmp_path in result.output


def test_setting_up_a_new_fleet_creates_the_database_and_says_so(tmp_path):
    new = tmp_path / "new" / "fleet.db"
    result = CliRunner().invoke(cli.main, ["init-admin", "--db", str(new)])
    assert result.exit_code == 0 and new.exists()
    assert "Creating a new fleet database: %s" % new in result.stderr
