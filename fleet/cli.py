"""`fleet`: the command line of the fleet manager - a thin layer over fleet.domain, with each
capability's commands added (care: `alarm`, `resident`, `escalation`, from fleet/care/cli.py).

Every command works on the database given by --db (or FLEET_DB, default var/fleet.db) and
can run while the server is up. Only the commands that set up a new fleet create a missing
database (and say so); the others name the file they looked for (SQLite WAL lets both write; a running server sees CLI
changes to devices within change_poll_s, from the device change log). Errors from the Python API (fleet.errors) become
one line on stderr and exit status 1.
"""

import json
import re
import sys

import click

from fleet import clikit, schema
from fleet.care import cli as care_cli
from fleet.facilities import cli as facilities_cli
from fleet.waste import cli as waste_cli
from fleet.ota import cli as ota_cli
from fleet.clikit import json_option, output, settings_from, with_db
from fleet.core.security import SecretBox, generate_password
from fleet.domain import credentials, devices, enrollment, export, tags as device_tags, users, webhooks
from fleet.errors import FleetError
from fleet.i18n.cli import LocalizedGroup

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text):
    """'90', '30m', '24h', '7d' -> seconds."""
    found = _DURATION.match(text.strip().lower())
    if not found:
        raise click.BadParameter("use a number with s, m, h or d (e.g. 24h)")
    return int(found.group(1)) * _UNITS[found.group(2)]


@click.group(cls=LocalizedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx):
    """Fleet manager: serve the device protocol and the admin web, manage people, tokens and devices."""
    ctx.meta[clikit.OPEN_DB] = schema.open_db      # every command's database: the whole fleet's schema


# ---- serving ----------------------------------------------------------------

@main.command()
@click.option("--host", envvar="FLEET_HOST", default=None, help="address to listen on [default 127.0.0.1]")
@click.option("--port", envvar="FLEET_PORT", type=int, default=None, help="port; 0 picks a free one [default 8000]")
@click.option("--db", "db_path", envvar="FLEET_DB", type=click.Path(dir_okay=False), help="SQLite database file")
@click.option("--log-level", envvar="FLEET_LOG_LEVEL", default=None, help="debug, info, warning [default info]")
@click.option("--tls-cert", envvar="FLEET_TLS_CERT", default=None, type=click.Path(dir_okay=False, exists=True),
              help="serve HTTPS with this certificate chain (PEM)")
@click.option("--tls-key", envvar="FLEET_TLS_KEY", default=None, type=click.Path(dir_okay=False, exists=True),
              help="the private key of --tls-cert (PEM)")
def serve(host, port, db_path, log_level, tls_cert, tls_key):
    """Run the fleet manager (device protocol, admin API, web UI)."""
    from fleet.server import serve as run
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    try:
        run(settings_from(db_path, host=host, port=port, log_level=log_level, tls_cert=tls_cert, tls_key=tls_key))
    except FleetError as exc:          # a bad setting, a port in use: one line, not a traceback
        raise click.ClickException(exc.message)


@main.command()
@click.option("--port", type=int, default=8000, show_default=True, help="port to serve on")
@click.option("--db", "db_path", default="var/demo.db", show_default=True, type=click.Path(dir_okay=False),
              help="demo database (created if missing); its folder holds the demo's key and virtual boards")
def demo(port, db_path):
    """Start a demo fleet on 127.0.0.1: fresh admin password printed, virtual boards running.

    One demo per folder: a second one with the same folder changes nothing and says where the
    running one is."""
    from fleet.demo import run_demo
    from fleet.demolock import DemoRunning
    from fleet.server import PortInUse
    try:
        run_demo(settings_from(db_path, host="127.0.0.1", port=port))
    except DemoRunning as exc:
        raise click.ClickException(demo_running_message(exc, port))
    except PortInUse as exc:
        raise click.ClickException(exc.message + "; nothing was changed.\n  e.g. make demo ARGS='--port %d' "
                                   "(or fleet demo --port %d)" % ((port or 8000) + 1, (port or 8000) + 1))
    except FleetError as exc:
        raise click.ClickException(exc.message)
    except KeyboardInterrupt:
        pass                            # Ctrl-C while starting or stopping: a normal way to end it
    click.echo("Demo stopped.")


def demo_running_message(exc, port):
    info = exc.info
    where = info.get("url") and "at %s/" % info["url"] or "(still starting)"
    pid = info.get("pid")
    lines = ["a demo is already running with %s %s%s; nothing was changed."
             % (exc.lock_path.parent, where, " (pid %s)" % pid if pid else ""),
             "  Use it:   open its URL; its admin password is in the terminal where it started.",
             "  Stop it:  Ctrl-C in that terminal%s." % (", or kill %s" % pid if pid else ""),
             "  Another demo beside it needs its own port and folder: make demo ARGS='--port %d --db var/demo2/demo.db'"
             % ((port or 8000) + 1)]
    return "\n".join(lines)


@main.command("init-admin")
@click.option("--username", default="admin", show_default=True)
@click.option("--password", default=None, help="default: generate one and print it")
@with_db(creates=True)
def init_admin(db, settings, username, password):
    """Create the first admin (refuses if one exists)."""
    if any(u["role"] == "admin" for u in users.list_users(db)):
        raise click.ClickException("an admin already exists; use `fleet user add` or `fleet user passwd`")
    generated = password is None
    password = password or generate_password()
    users.create_user(db, users.cli_principal(), username, "admin", password)
    click.echo("admin %r created" % username)
    if generated:
        click.echo("password: %s" % password)


# ---- people -----------------------------------------------------------------

@main.group()
def user():
    """People who log in: admins, caregivers, technicians."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(users.ROLES), required=True)
@click.option("--password", default=None, help="default: generate one and print it")
@with_db(creates=True)
def user_add(db, settings, username, role, password):
    """Create a user."""
    generated = password is None
    password = password or generate_password()
    created = users.create_user(db, users.cli_principal(), username, role, password)
    click.echo("user %r (%s) created, id %d" % (username, role, created["id"]))
    if generated:
        click.echo("password: %s" % password)


@user.command("list")
@json_option
@with_db
def user_list(db, settings, as_json):
    """List users."""
    output(users.list_users(db), ["id", "username", "role", "disabled", "created_at"], as_json)


@user.command("passwd")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="the new password (prompted if not given)")
@with_db
def user_passwd(db, settings, username, password):
    """Set a user's password (ends their web sessions)."""
    users.set_password(db, users.cli_principal(), username, password)
    click.echo("password of %r changed" % username)


# ---- API tokens -------------------------------------------------------------

@main.group()
def token():
    """API tokens for tools (Authorization: Bearer ...)."""


@token.command("create")
@click.option("--user", "username", required=True, help="the user the token acts as")
@click.option("--name", required=True, help="what the token is for")
@with_db
def token_create(db, settings, username, name):
    """Create an API token; it is printed once."""
    owner = users.find_user(db, username)
    row, clear = credentials.create_token(db, users.cli_principal(), owner["id"], name)
    click.echo("token %d for %s (%s):" % (row["id"], username, owner["role"]))
    click.echo(clear)


@token.command("list")
@json_option
@with_db
def token_list(db, settings, as_json):
    """List API tokens (never their values)."""
    output(credentials.list_tokens(db), ["id", "username", "name", "prefix", "created_at", "last_used_at",
                                         "revoked_at"], as_json)


@token.command("revoke")
@click.argument("token_id", type=int)
@with_db
def token_revoke(db, settings, token_id):
    """Revoke an API token."""
    credentials.revoke_token(db, users.cli_principal(), token_id)
    click.echo("token %d revoked" % token_id)


# ---- enrollment tokens --------------------------------------------------------

@main.group("enroll-token")
def enroll_token():
    """Single-use tokens that let a device enroll."""


@enroll_token.command("create")
@click.option("--role", type=click.Choice(enrollment.ID_PREFIX), default=None, help="only for this device role")
@click.option("--board", default=None, help="only for this board")
@click.option("--site", default=None, help="only for (and assigns devices to) this site")
@click.option("--expires", default="24h", show_default=True, help="lifetime: 90, 30m, 24h, 7d")
@click.option("--count", default=1, show_default=True, type=int, help="how many tokens")
@json_option
@with_db(creates=True)
def enroll_token_create(db, settings, role, board, site, expires, count, as_json):
    """Mint enrollment tokens; each is printed once."""
    minted = enrollment.mint_tokens(db, users.cli_principal(), parse_duration(expires), count, role, board, site)
    if as_json:
        click.echo(json.dumps([dict(r, token=t) for r, t in minted], indent=2))
        return
    for row, clear in minted:
        click.echo("%s  (id %d, expires %s)" % (clear, row["id"], row["expires_at"]))


@enroll_token.command("list")
@click.option("--state", type=click.Choice(["valid", "used", "expired", "revoked"]), default=None)
@json_option
@with_db
def enroll_token_list(db, settings, state, as_json):
    """List enrollment tokens (never their values)."""
    output(enrollment.list_tokens(db, state), ["id", "prefix", "state", "role", "board", "site", "expires_at",
                                               "device_id"], as_json)


# ---- devices ------------------------------------------------------------------

@main.group()
def device():
    """Enrolled devices."""


@device.command("list")
@click.option("--role", default=None)
@click.option("--status", type=click.Choice(devices.STATUSES), default=None)
@click.option("--tag", "tags", multiple=True, help="only devices with this tag (repeat: with all of them)")
@json_option
@with_db
def device_list(db, settings, role, status, tags, as_json):
    """List devices with their status and tags."""
    found = devices.list_devices(db, role=role, status=status, tags=list(tags))
    if not as_json:
        found = [dict(d, tags=",".join(d["tags"])) for d in found]
    output(found, ["id", "role", "status", "last_seen", "site", "board", "fw", "app", "tags"], as_json)


@device.command("tag")
@click.argument("device_id")
@click.argument("action", type=click.Choice(["add", "remove", "set", "show"]))
@click.argument("tags", nargs=-1)
@with_db
def device_tag(db, settings, device_id, action, tags):
    """A device's tags: add, remove or set (set with no tag clears them), or show them.

    A tag is 1-32 of a-z, 0-9, '-', '_' and ':', starting with a letter or digit; a device has at
    most 16. Rollouts can target devices by tag (fleet rollout start --tag)."""
    if action in ("add", "remove") and not tags:
        raise click.UsageError("name at least one tag to %s" % action)
    if action == "show" and tags:
        raise click.UsageError("show takes no tags")
    change = {"add": device_tags.add_tags, "remove": device_tags.remove_tags, "set": device_tags.set_tags}.get(action)
    if change is None:
        now = devices.get_device(db, device_id)["tags"]
    else:
        now = change(db, users.cli_principal(), device_id, list(tags))
    click.echo("%s: %s" % (device_id, " ".join(now) if now else "(no tags)"))


@device.command("revoke")
@click.argument("device_id")
@click.option("--reason", default=None)
@with_db
def device_revoke(db, settings, device_id, reason):
    """Revoke a device: every request it makes is refused from now on."""
    devices.revoke(db, users.cli_principal(), device_id, reason)
    click.echo("device %s revoked" % device_id)


@device.command("rotate")
@click.argument("device_id")
@with_db
def device_rotate(db, settings, device_id):
    """Give a device a new secret (printed once; put it on the device)."""
    _, secret = devices.rotate_secret(db, SecretBox.from_file(settings.key_path), users.cli_principal(), device_id)
    click.echo("new secret of %s (shown once):" % device_id)
    click.echo(secret)


# ---- webhooks ---------------------------------------------------------------------

@main.group()
def webhook():
    """Outgoing webhooks for alarm transitions (signed, retried, recorded)."""


@webhook.command("add")
@click.argument("url")
@click.option("--name", default=None)
@click.option("--event", "events", multiple=True, type=click.Choice(webhooks.EVENTS),
              help="only these events (repeatable; default all)")
@click.option("--group", "groups", multiple=True, help="only alarms notified to these responder groups (repeatable)")
@click.option("--include-resident", is_flag=True, help="put resident details into payloads")
@with_db(creates=True)
def webhook_add(db, settings, url, name, events, groups, include_resident):
    """Add a webhook; prints its signing secret once."""
    hook, secret = webhooks.create_webhook(db, SecretBox.from_file(settings.key_path), users.cli_principal(), url,
                                           name, events, groups, include_resident)
    click.echo("webhook %d added; signing secret (shown once):" % hook["id"])
    click.echo(secret)


@webhook.command("list")
@json_option
@with_db
def webhook_list(db, settings, as_json):
    """List webhooks (never their secrets)."""
    found = webhooks.list_webhooks(db)
    if not as_json:
        found = [dict(h, events=",".join(h["events"]) or "all", groups=",".join(h["groups"]) or "all") for h in found]
    output(found, ["id", "name", "url", "events", "groups", "enabled"], as_json)


@webhook.command("remove")
@click.argument("webhook_id", type=int)
@with_db
def webhook_remove(db, settings, webhook_id):
    """Remove a webhook and its delivery records."""
    webhooks.delete_webhook(db, users.cli_principal(), webhook_id)
    click.echo("webhook %d removed" % webhook_id)


@webhook.command("deliveries")
@click.argument("webhook_id", type=int)
@click.option("--limit", default=20, show_default=True, type=int)
@json_option
@with_db
def webhook_deliveries(db, settings, webhook_id, limit, as_json):
    """Recent deliveries of a webhook with their attempts."""
    found = webhooks.list_deliveries(db, webhook_id, limit)
    if not as_json:
        found = [dict(d, attempt_log=None) for d in found]
    output(found, ["id", "event", "alarm_id", "state", "attempts", "last_status", "last_error", "delivered_at"],
           as_json)


# ---- export -------------------------------------------------------------------

@main.command("export")
@click.argument("kind", type=click.Choice(export.KINDS))
@click.option("--out", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="CSV file to write ('-' for stdout)")
@click.option("--device", "device_id", default=None, help="events: only this device")
@with_db
def export_csv(db, settings, kind, out, device_id):
    """Write devices or events as CSV."""
    if out == "-":
        count = export.write_csv(db, kind, sys.stdout, device_id)
    else:
        with open(out, "w", newline="", encoding="utf-8") as f:
            count = export.write_csv(db, kind, f, device_id)
        click.echo("%d %s written to %s" % (count, kind, out), err=True)


for command in care_cli.COMMANDS + waste_cli.COMMANDS + facilities_cli.COMMANDS + ota_cli.COMMANDS:
    main.add_command(command)


if __name__ == "__main__":
    main()
