"""Releases: `fleet release keygen|build|sign|trust|upload|list` and what an upload refuses."""

import json

import pytest
from click.testing import CliRunner

from fleet import cli
from fleet.errors import Conflict, Invalid
from fleet.ota import bundle, releases
from otakit import ADMIN, make_release, publish


def test_build_sign_upload_list_from_the_command_line(tmp_path, settings, db):
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(cli.main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    out = run("release", "keygen", "--out", str(tmp_path / "keys"))
    kid = out.split()[1].rstrip(":")
    private, public = tmp_path / "keys" / (kid + ".pem"), tmp_path / "keys" / (kid + ".pub.pem")
    run("release", "build", "--out", str(tmp_path / "r"), "--version", "0.3.0", "--sv", "1",
        "--roles", "call_button,smart_bin", "--expires", "30d")
    run("release", "sign", str(tmp_path / "r"), "--key", str(private))
    refused = run("release", "upload", str(tmp_path / "r"), "--db", str(settings.db), ok=False)
    assert "unknown_key" in refused and "fleet release trust" in refused
    run("release", "trust", str(public), "--db", str(settings.db))
    run("release", "upload", str(tmp_path / "r"), "--db", str(settings.db))
    listed = json.loads(run("release", "list", "--json", "--db", str(settings.db)))
    assert [(r["id"], r["key_id"], r["sv"], r["roles"], r["devices"]) for r in listed] == [
        ("app-0.3.0", kid, 1, ["call_button", "smart_bin"], 0)]
    assert listed[0]["manifest"]["size"] == listed[0]["size"] == (tmp_path / "r" / "artifact.bin").stat().st_size


def test_the_bundle_holds_the_compiled_app_and_its_version(tmp_path, trusted, db, settings):
    folder = make_release(tmp_path / "r", trusted, version="1.4.2")
    files = bundle.unpack((folder / "artifact.bin").read_bytes())
    assert json.loads(files["app.json"]) == {"version": "1.4.2"}
    assert "supervisor.mpy" in files and "devproto/ota.mpy" in files and not any(p.endswith(".py") for p in files)
    release = publish(db, settings, folder)
    stored = releases.artifact_path(settings, release).read_bytes()
    assert stored == (folder / "artifact.bin").read_bytes()


def test_a_tampered_artifact_is_refused(tmp_path, trusted, db, settings):
    folder = make_release(tmp_path / "r", trusted)
    data = bytearray((folder / "artifact.bin").read_bytes())
    data[1000] ^= 1
    (folder / "artifact.bin").write_bytes(bytes(data))
    with pytest.raises(Invalid, match="SHA-256 does not match"):
        publish(db, settings, folder)
    assert releases.list_releases(db) == [] and not list(settings.ota_path.glob("*.bin"))


def test_a_tampered_manifest_is_refused(tmp_path, trusted, db, settings):
    folder = make_release(tmp_path / "r", trusted)
    env = json.loads((folder / "manifest.signed.json").read_text())
    env["manifest"] = env["manifest"].replace('"sv":0', '"sv":9')
    (folder / "manifest.signed.json").write_text(json.dumps(env))
    with pytest.raises(Invalid, match="bad_signature"):
        publish(db, settings, folder)


def test_a_revoked_key_signs_nothing_more(tmp_path, trusted, keys, db, settings):
    releases.revoke_key(db, ADMIN, keys["a"][2])
    with pytest.raises(Invalid, match="revoked_key"):
        publish(db, settings, make_release(tmp_path / "r", trusted))
    with pytest.raises(Conflict, match="never trusted again"):
        releases.trust_key(db, ADMIN, keys["a"][1])


def test_an_expired_manifest_is_refused(tmp_path, trusted, db, settings):
    folder = tmp_path / "r"
    releases.build(folder, "app", "0.2.0", 0, ["*"], ["*"], 60, now=1_000_000)
    releases.sign(folder, trusted)
    with pytest.raises(Invalid, match="expired"):
        publish(db, settings, folder)


def test_the_same_release_twice_is_a_conflict(tmp_path, trusted, db, settings):
    folder = make_release(tmp_path / "r", trusted)
    publish(db, settings, folder)
    with pytest.raises(Conflict):
        publish(db, settings, folder)


def test_bad_build_input_says_what_to_fix(tmp_path):
    with pytest.raises(Invalid, match="x.y.z"):
        releases.build(tmp_path / "r", "app", "1.2", 0, ["*"], ["*"], 60)
    with pytest.raises(Invalid, match="needs --image"):
        releases.build(tmp_path / "r", "firmware", "1.2.0", 0, ["*"], ["*"], 60)
    (tmp_path / "x.bin").write_bytes(b"\x00" * 64)
    with pytest.raises(Invalid, match="not an ESP32 app image"):
        releases.build(tmp_path / "r", "firmware", "1.2.0", 0, ["*"], ["*"], 60, image=tmp_path / "x.bin")
    from boards import espimage
    image = bytearray(espimage.stand_in("1.3.0", size=4096))
    (tmp_path / "v.bin").write_bytes(bytes(image))
    with pytest.raises(Invalid, match="the image says version 1.3.0"):
        releases.build(tmp_path / "r", "firmware", "1.2.0", 0, ["*"], ["*"], 60, image=tmp_path / "v.bin")
    image[100] ^= 1                                    # a damaged image: its checksum/digest no longer match
    (tmp_path / "d.bin").write_bytes(bytes(image))
    with pytest.raises(Invalid, match="not an ESP32 app image: (checksum|SHA-256)"):
        releases.build(tmp_path / "r", "firmware", "1.3.0", 0, ["*"], ["*"], 60, image=tmp_path / "d.bin")


def test_a_rotation_signed_by_a_trusted_key_moves_the_fleets_trust(tmp_path, trusted, keys, db, settings):
    folder = tmp_path / "rot"
    releases.build_rotation(folder, 1, [keys["b"][1]], [keys["a"][2]], 86400)
    releases.sign(folder, trusted)
    found = publish(db, settings, folder)
    assert found["id"] == "keys-1" and found["manifest"]["add"].keys() == {keys["b"][2]}
    states = {k["id"]: k["revoked_at"] is not None for k in releases.list_keys(db)}
    assert states == {keys["a"][2]: True, keys["b"][2]: False}
