"""`fleet alarm|resident|escalation|webhook` through click's runner, on a real database."""

import json
import re

import pytest
from click.testing import CliRunner

from fleet import cli
from fleet.domain import audit
from fleetkit import enroll

from alarmkit import alarm


@pytest.fixture
def run(settings, db):
    runner = CliRunner()

    def invoke(*args, ok=True):
        result = runner.invoke(cli.main, list(args) + ["--db", str(settings.db)], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return invoke


def test_residents_escalation_webhooks_and_alarms(run, client, db):
    button = enroll(client, db)
    added = run("resident", "add", "Chen Mei", "--room", "7", "--address", "Block 2",
                "--contact", "Chen Jun, 137 0000 1111, son", "--notes", "diabetic")
    resident_id = int(re.search(r"resident (\d+) added", added.output).group(1))
    run("resident", "assign", str(resident_id), button.id)
    [listed] = json.loads(run("resident", "list", "--json").output)
    assert listed["devices"] == [button.id] and listed["contacts"][0] == {
        "name": "Chen Jun", "phone": "137 0000 1111", "relation": "son"}
    refused = run("resident", "assign", str(resident_id), "cb-nope", ok=False)
    assert refused.exit_code == 1 and "no device" in refused.output
    assert "Chen Mei" not in json.dumps(audit.entries(db, limit=1000))

    run("escalation", "set", "Block 2", "--stage", "30:backup", "--stage", "90:managers")
    policies = {p["site"]: p["stages"] for p in json.loads(run("escalation", "list", "--json").output)}
    assert policies["Block 2"] == [{"after_s": 30, "group": "backup"}, {"after_s": 90, "group": "managers"}]
    assert "60s:backup" in run("escalation", "list").output
    bad = run("escalation", "set", "Block 2", "--stage", "90:a", "--stage", "30:b", ok=False)
    assert bad.exit_code == 1 and "later" in bad.output
    run("escalation", "clear", "Block 2")
    assert "Block 2" not in run("escalation", "list").output

    created = run("webhook", "add", "https://pager.example/hook", "--name", "pager", "--group", "backup",
                  "--event", "alarm.escalated")
    assert re.search(r"^whsec_[A-Za-z0-9+/]{43}=$", created.output.splitlines()[1])     # base64 of 32 bytes
    [hook] = json.loads(run("webhook", "list", "--json").output)
    assert (hook["groups"], hook["events"], hook["include_resident"]) == (["backup"], ["alarm.escalated"], False)
    assert "secret" not in hook

    button.events([alarm(1, "a-1")])
    [found] = json.loads(run("alarm", "list", "--open", "--json").output)
    assert (found["ref"], found["state"], found["resident"]) == ("a-1", "received", None)
    assert "a-1" in run("alarm", "list", "--state", "received").output
    assert run("webhook", "deliveries", str(hook["id"])).stdout.strip() == "(none)"   # filtered: no escalation yet
    run("webhook", "remove", str(hook["id"]))
    assert run("webhook", "list").stdout.strip() == "(none)"
