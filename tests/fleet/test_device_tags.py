"""Device tags: the rule (syntax, 16 a device), set / add / remove through the domain, the API and
the CLI (audited, shown in the device JSON and the live list), the list filter, and bad input -
an invalid tag, too many tags, an unknown device - each a clear error."""

import json

import pytest
from click.testing import CliRunner

from fleet import cli
from fleet.domain import audit, devices, tags
from fleet.errors import Invalid, NotFound
from fleetkit import CLI, enroll


@pytest.mark.parametrize("good", ["a", "floor-3", "vendor:acme", "batch_2026", "0", "x" * 32])
def test_good_tags(good):
    assert tags.check_tag(good) == good


@pytest.mark.parametrize("bad", ["", "Floor", "floor 3", "-a", "_a", ":a", "x" * 33, "楼", "a\n", "a/b", 3, None])
def test_bad_tags_are_refused_with_the_rule(bad):
    with pytest.raises(Invalid) as err:
        tags.check_tag(bad)
    assert err.value.code == "invalid_tag" and "lower-case letters" in err.value.message


def test_set_add_remove_in_the_domain_are_audited(client, db):
    device = enroll(client, db)
    assert tags.set_tags(db, CLI, device.id, ["pilot", "floor-3", "pilot"]) == ["floor-3", "pilot"]
    assert tags.add_tags(db, CLI, device.id, ["vendor:acme", "pilot"]) == ["floor-3", "pilot", "vendor:acme"]
    assert tags.remove_tags(db, CLI, device.id, ["pilot", "never-had"]) == ["floor-3", "vendor:acme"]
    assert devices.get_device(db, device.id)["tags"] == ["floor-3", "vendor:acme"]
    assert tags.add_tags(db, CLI, device.id, ["floor-3"]) == ["floor-3", "vendor:acme"]     # no change: no audit row
    assert [e["detail"] for e in reversed(audit.entries(db, action="device.tags"))] == [
        {"added": ["floor-3", "pilot"], "removed": []}, {"added": ["vendor:acme"], "removed": []},
        {"added": [], "removed": ["pilot"]}]
    assert tags.set_tags(db, CLI, device.id, []) == [] and devices.get_device(db, device.id)["tags"] == []


def test_at_most_16_tags_a_device(client, db):
    device = enroll(client, db)
    tags.set_tags(db, CLI, device.id, ["t%d" % i for i in range(16)])
    with pytest.raises(Invalid) as err:
        tags.add_tags(db, CLI, device.id, ["one-more"])
    assert err.value.code == "too_many_tags" and "at most 16" in err.value.message
    with pytest.raises(Invalid):
        tags.set_tags(db, CLI, device.id, ["t%d" % i for i in range(17)])
    assert len(devices.get_device(db, device.id)["tags"]) == 16            # nothing changed


def test_an_unknown_device_is_not_found(db):
    with pytest.raises(NotFound):
        tags.add_tags(db, CLI, "cb-nope", ["pilot"])


def test_the_api_sets_adds_removes_and_filters(client, db, admin_headers):
    a, b, c = enroll(client, db), enroll(client, db), enroll(client, db)
    put = client.put("/api/v1/devices/%s/tags" % a.id, json={"tags": ["pilot", "floor-3"]}, headers=admin_headers)
    assert put.status_code == 200 and put.json()["tags"] == ["floor-3", "pilot"]
    added = client.put("/api/v1/devices/%s/tags/pilot" % b.id, headers=admin_headers)
    assert added.status_code == 200 and added.json()["tags"] == ["pilot"]
    client.put("/api/v1/devices/%s/tags/floor-2" % c.id, headers=admin_headers)
    assert client.get("/api/v1/devices/" + a.id, headers=admin_headers).json()["tags"] == ["floor-3", "pilot"]

    def listed(query):
        response = client.get("/api/v1/devices" + query, headers=admin_headers)
        assert response.status_code == 200, response.text
        return sorted(d["id"] for d in response.json())
    assert listed("?tag=pilot") == sorted([a.id, b.id])
    assert listed("?tag=pilot&tag=floor-3") == [a.id]
    assert listed("?tag=floor-9") == []
    assert len(listed("")) == 3
    removed = client.delete("/api/v1/devices/%s/tags/pilot" % a.id, headers=admin_headers)
    assert removed.status_code == 200 and removed.json()["tags"] == ["floor-3"]
    assert client.delete("/api/v1/devices/%s/tags/pilot" % a.id, headers=admin_headers).status_code == 200
    assert [e["target"] for e in audit.entries(db, action="device.tags")][0] == a.id
    assert audit.entries(db, action="device.tags")[0]["actor"].startswith("token:")


def test_the_api_refuses_bad_input_clearly(client, db, admin_headers):
    device = enroll(client, db)
    for method, path, body, status, code in (
            ("PUT", "/tags", {"tags": ["Floor 3"]}, 422, "invalid_tag"),
            ("PUT", "/tags/Floor", None, 422, "invalid_tag"),
            ("DELETE", "/tags/" + "x" * 33, None, 422, "invalid_tag"),
            ("PUT", "/tags", {"tags": ["t%d" % i for i in range(17)]}, 422, "too_many_tags"),
            ("PUT", "/tags", {"tags": "pilot"}, 422, "invalid"),
            ("PUT", "/tags", {"tags": ["a"], "colour": 1}, 422, "invalid")):
        response = client.request(method, "/api/v1/devices/%s%s" % (device.id, path), json=body, headers=admin_headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), (path, body, response.text)
    client.put("/api/v1/devices/%s/tags" % device.id, json={"tags": ["t%d" % i for i in range(16)]},
               headers=admin_headers)
    full = client.put("/api/v1/devices/%s/tags/one-more" % device.id, headers=admin_headers)
    assert full.status_code == 422 and "at most 16" in full.json()["error"]["message"]
    unknown = client.put("/api/v1/devices/cb-nope/tags/pilot", headers=admin_headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    bad_filter = client.get("/api/v1/devices?tag=Not%20a%20tag", headers=admin_headers)
    assert bad_filter.status_code == 422 and bad_filter.json()["error"]["code"] == "invalid_tag"


def test_tags_reach_the_live_list(client, db, admin_headers):
    from fleet.api.live import device_snapshot
    device = enroll(client, db)
    client.put("/api/v1/devices/%s/tags/pilot" % device.id, headers=admin_headers)
    [row] = device_snapshot(client.app.state.fleet)
    assert row["id"] == device.id and row["tags"] == ["pilot"]


def test_tags_never_reach_the_device(client, db, admin_headers):
    device = enroll(client, db)
    before = device.hello().json()["down"]
    client.put("/api/v1/devices/%s/tags/pilot" % device.id, headers=admin_headers)
    after = device.hello().json()["down"]
    assert after == before


@pytest.fixture
def run(settings, db):
    runner = CliRunner()

    def invoke(*args, ok=True):
        result = runner.invoke(cli.main, list(args) + ["--db", str(settings.db)], catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result
    return invoke


def test_the_cli(run, client, db):
    a, b = enroll(client, db), enroll(client, db)
    assert run("device", "tag", a.id, "add", "pilot", "floor-3").output.strip() == "%s: floor-3 pilot" % a.id
    run("device", "tag", b.id, "set", "pilot")
    assert run("device", "tag", a.id, "remove", "floor-3").output.strip() == "%s: pilot" % a.id
    assert run("device", "tag", a.id, "show").output.strip() == "%s: pilot" % a.id
    assert sorted(d["id"] for d in json.loads(run("device", "list", "--tag", "pilot", "--json").output)) == sorted(
        [a.id, b.id])
    assert "pilot" in run("device", "list").output
    assert run("device", "tag", b.id, "set").output.strip() == "%s: (no tags)" % b.id
    assert json.loads(run("device", "list", "--tag", "pilot", "--json").output)[0]["tags"] == ["pilot"]
    assert audit.entries(db, action="device.tags")[0]["actor"].startswith("cli:")
    # bad input: one line, exit status 1 (2: a usage error)
    bad = run("device", "tag", a.id, "add", "Floor 3", ok=False)
    assert bad.exit_code == 1 and "is not a tag" in bad.output and "Traceback" not in bad.output
    many = run("device", "tag", a.id, "set", *["t%d" % i for i in range(17)], ok=False)
    assert many.exit_code == 1 and "at most 16" in many.output
    unknown = run("device", "tag", "cb-nope", "add", "pilot", ok=False)
    assert unknown.exit_code == 1 and "no device 'cb-nope'" in unknown.output
    assert run("device", "tag", a.id, "add", ok=False).exit_code == 2
    assert run("device", "tag", a.id, "paint", "x", ok=False).exit_code == 2


def test_the_devices_csv_has_the_tags(client, db):
    import csv
    import io
    from fleet.domain import export
    a, b = enroll(client, db), enroll(client, db)
    tags.set_tags(db, CLI, a.id, ["pilot", "floor-3"])
    out = io.StringIO()
    export.write_csv(db, "devices", out)
    found = {r["id"]: r["tags"] for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert found == {a.id: "floor-3 pilot", b.id: ""}
