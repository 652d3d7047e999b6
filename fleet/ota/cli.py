"""OTA's commands of `fleet` (added to it in fleet/cli.py): `fleet release` (keys, build, sign,
upload, list) and `fleet rollout`. `keygen`, `build`, `rotate` and `sign` run offline, where the
key is, and need no database; the others work on the fleet's database. docs/ota.md."""

import json
from pathlib import Path

import click

from fleet.clikit import json_option, output, with_db
from fleet.domain import users
from fleet.ota import releases, rollouts, signing


def _split(values):
    return [v for text in values for v in text.split(",")]


def _seconds(text):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text[-1:] in units:
            return int(text[:-1]) * units[text[-1]]
        return int(text)
    except ValueError:
        raise click.BadParameter("use a number with s, m, h or d (e.g. 90d)")


@click.group()
def release():
    """Signed releases: keys, build, sign (offline), upload, list."""


@release.command("keygen")
@click.option("--out", "folder", required=True, type=click.Path(file_okay=False), help="folder for the key files")
def release_keygen(folder):
    """Make a release key (RSA-3072): <id>.pem (private, keep it offline) and <id>.pub.pem."""
    kid = signing.generate(folder)
    click.echo("key %s: private %s, public %s" % (kid, Path(folder) / (kid + ".pem"), Path(folder) / (kid + ".pub.pem")))


@release.command("build")
@click.option("--out", "folder", required=True, type=click.Path(file_okay=False), help="release folder to write")
@click.option("--kind", type=click.Choice(["app", "firmware"]), default="app", show_default=True)
@click.option("--version", required=True, help="x.y.z, newer than what the devices run")
@click.option("--sv", "security_version", type=int, default=0, show_default=True,
              help="security version: devices never take a lower one again")
@click.option("--boards", multiple=True, default=["*"], show_default=True, help="board names, comma-separated, or *")
@click.option("--roles", multiple=True, default=["*"], show_default=True, help="roles, comma-separated, or *")
@click.option("--min-version", default=None, help="devices must run at least this version to take it")
@click.option("--expires", default="90d", show_default=True, help="the manifest is refused after this (e.g. 30d)")
@click.option("--firmware", "firmware_dir", default=None, type=click.Path(file_okay=False, exists=True),
              help="firmware tree of an app release [default: the one installed]")
@click.option("--image", default=None, type=click.Path(dir_okay=False, exists=True),
              help="MicroPython image (.bin) of a firmware release")
def release_build(folder, kind, version, security_version, boards, roles, min_version, expires, firmware_dir, image):
    """Build a release folder: the artifact and its manifest, to be signed."""
    try:
        m = releases.build(folder, kind, version, security_version, _split(boards), _split(roles), _seconds(expires),
                           min_version, firmware_dir, image)
    except Exception as exc:
        raise click.ClickException(getattr(exc, "message", str(exc)))
    click.echo("built %s %s: %d bytes, sha256 %s; now sign it: fleet release sign %s --key KEY.pem"
               % (m["kind"], m["version"], m["size"], m["sha256"], folder))


@release.command("rotate")
@click.option("--out", "folder", required=True, type=click.Path(file_okay=False), help="release folder to write")
@click.option("--seq", type=int, required=True, help="rotation number, higher than the last one")
@click.option("--add", "add", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="public key (.pub.pem) the boards shall trust")
@click.option("--revoke", multiple=True, help="key id the boards shall never trust again")
@click.option("--expires", default="90d", show_default=True, help="the manifest is refused after this")
def release_rotate(folder, seq, add, revoke, expires):
    """Build a key rotation, to be signed with a key the boards trust now."""
    try:
        releases.build_rotation(folder, seq, [Path(p).read_bytes() for p in add], list(revoke), _seconds(expires))
    except Exception as exc:
        raise click.ClickException(getattr(exc, "message", str(exc)))
    click.echo("built key rotation %d; now sign it with a key the boards trust" % seq)


@release.command("sign")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="private release key (.pem); FLEET_SIGNING_PASSPHRASE if it is encrypted")
def release_sign(folder, key_path):
    """Sign a built release with a private key (offline)."""
    try:
        kid = releases.sign(folder, key_path)
    except Exception as exc:
        raise click.ClickException(getattr(exc, "message", str(exc)))
    click.echo("signed with key %s: %s" % (kid, Path(folder) / releases.SIGNED))


@release.command("trust")
@click.argument("public_key", type=click.Path(dir_okay=False, exists=True))
@with_db(creates=True)
def release_trust(db, settings, public_key):
    """Trust a public release key (.pub.pem) for uploads."""
    kid = releases.trust_key(db, users.cli_principal(), Path(public_key).read_bytes())
    click.echo("trusted key %s" % kid)


@release.command("revoke-key")
@click.argument("key_id")
@with_db
def release_revoke_key(db, settings, key_id):
    """Stop trusting a release key (boards learn it through a key rotation)."""
    releases.revoke_key(db, users.cli_principal(), key_id)
    click.echo("revoked key %s" % key_id)


@release.command("keys")
@json_option
@with_db
def release_keys(db, settings, as_json):
    """List the release keys the fleet trusts or revoked."""
    output(releases.list_keys(db), ["id", "added_at", "added_by", "revoked_at"], as_json)


@release.command("upload")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@with_db
def release_upload(db, settings, folder):
    """Upload a signed release folder; its signature and artifact are checked."""
    found = releases.upload_folder(db, settings, users.cli_principal(), folder)
    click.echo("uploaded release %s (%d bytes, key %s)" % (found["id"], found["size"] or 0, found["key_id"]))


@release.command("list")
@json_option
@with_db
def release_list(db, settings, as_json):
    """List releases: manifest, size, signer key, devices running them."""
    found = releases.list_releases(db)
    if as_json:
        click.echo(json.dumps([{k: v for k, v in r.items() if k != "envelope"} for r in found], indent=2))
        return
    output(found, ["id", "kind", "version", "sv", "size", "key_id", "devices", "uploaded_at"], False)


@click.group()
def rollout():
    """Rollouts of a release: start, follow, pause, resume, abort."""


@rollout.command("start")
@click.argument("release_id")
@click.option("--role", "roles", multiple=True, help="only devices of these roles (repeat or comma-separate)")
@click.option("--board", "boards", multiple=True, help="only these boards")
@click.option("--site", "sites", multiple=True, help="only these sites")
@click.option("--from-version", "versions", multiple=True, help="only devices running these versions")
@click.option("--tag", "tags", multiple=True, help="only devices with all of these tags (repeat or comma-separate)")
@click.option("--canary", multiple=True, help="the canary phase: these device ids [default: one device]")
@click.option("--phases", default="10,100", show_default=True, help="the phases after the canary, in percent of the target")
@click.option("--threshold", type=int, default=95, show_default=True, help="percent of a phase that must succeed")
@click.option("--manual", is_flag=True, help="wait for a person (`fleet rollout resume`) after each phase")
@click.option("--abort-pct", type=int, default=20, show_default=True, help="pause when this percent of a phase fails...")
@click.option("--abort-min", type=int, default=1, show_default=True, help="...and at least this many devices")
@click.option("--rate", type=int, default=60, show_default=True, help="devices offered per minute")
@click.option("--timeout", "timeout_s", default="30m", show_default=True, help="a device's time to report an outcome")
@click.option("--window", "windows", multiple=True,
              help='maintenance window "CRON;DURATION;TZ", e.g. "0 2 * * *;2h;Asia/Shanghai" [default: any time]')
@click.option("--gate", "gate_s", default="5m", show_default=True, help="the health gate's window on the device")
@click.option("--plan", "plan_file", type=click.File(), default=None, help="the whole plan as JSON (docs/ota.md)")
@with_db
def rollout_start(db, settings, release_id, roles, boards, sites, versions, tags, canary, phases, threshold, manual,
                  abort_pct, abort_min, rate, timeout_s, windows, gate_s, plan_file):
    """Start a rollout of a release: canary first, then the phases."""
    if plan_file is not None:
        plan = json.load(plan_file)
    else:
        first = {"name": "canary", "devices": _split(canary)} if canary else {"name": "canary", "count": 1}
        steps = [first] + [{"name": "%s%%" % p.strip(), "percent": int(p)} for p in phases.split(",") if p.strip()]
        plan = {"phases": steps, "success": {"threshold": threshold, "auto": not manual},
                "abort": {"failure_pct": abort_pct, "min_devices": abort_min}, "rate_per_min": rate,
                "device_timeout_s": _seconds(timeout_s), "gate_s": _seconds(gate_s), "windows": [
                    dict(zip(("cron", "duration_s", "tz"), (w.split(";")[0], _seconds(w.split(";")[1]),
                                                            (w.split(";") + ["UTC", "UTC"])[2]))) for w in windows]}
    target = {k: _split(v) for k, v in (("roles", roles), ("boards", boards), ("sites", sites),
                                        ("versions", versions), ("tags", tags)) if v}
    r = rollouts.create(db, users.cli_principal(), release_id, target, plan)
    click.echo("rollout %d of %s started (%s); follow it: fleet rollout show %d"
               % (r["id"], release_id, " → ".join(p["name"] for p in r["plan"]["phases"]), r["id"]))


@rollout.command("list")
@json_option
@with_db
def rollout_list(db, settings, as_json):
    """List rollouts, newest first."""
    found = rollouts.list_rollouts(db)
    for r in found:
        r["done"] = "%d/%d" % (sum(p["succeeded"] for p in r["phases"]), sum(p["total"] for p in r["phases"]))
        r["failed"] = sum(p["failed"] for p in r["phases"])
    output(found, ["id", "release_id", "state", "phase", "done", "failed", "reason"], as_json)


@rollout.command("show")
@click.argument("rollout_id", type=int)
@json_option
@with_db
def rollout_show(db, settings, rollout_id, as_json):
    """One rollout: its phases, devices and history."""
    r = rollouts.get_rollout(db, rollout_id)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    click.echo("rollout %d of %s: %s%s" % (r["id"], r["release_id"], r["state"], " (%s)" % r["reason"] if r["reason"] else ""))
    click.echo("target: %s" % ("; ".join("%s %s" % (k, ",".join(v)) for k, v in r["target"].items()) or "any device"))
    output(r["phases"], ["name", "size", "total", "succeeded", "failed", "in_progress", "waiting"], False)
    output(r["devices"], ["device_id", "phase", "state", "reason", "progress", "updated_at"], False)


def _control(action):
    @click.argument("rollout_id", type=int)
    @click.option("--reason", default=None, help="why (kept in the rollout's history)")
    @with_db
    def command(db, settings, rollout_id, reason):
        rollouts.control(db, users.cli_principal(), rollout_id, action, reason)
        click.echo("rollout %d: %s" % (rollout_id, rollouts.get_rollout(db, rollout_id, False, False)["state"]))
    return command


rollout.command("pause", help="Pause a rollout: no new offers; devices not started lose theirs.")(_control("pause"))
rollout.command("resume", help="Resume a paused rollout, or start the next phase of one waiting for a person.")(
    _control("resume"))
rollout.command("abort", help="Abort a rollout for good: devices not started will not update.")(_control("abort"))


COMMANDS = (release, rollout)
