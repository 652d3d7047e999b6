"""Care's commands of `fleet` (added to it in fleet/cli.py): alarms, residents, escalation policies."""

import click

from fleet.care import alarms, escalation, residents
from fleet.clikit import json_option, output, with_db
from fleet.domain import users


@click.group()
def alarm():
    """Alarms of call buttons and supervision (answer them in the web console)."""


@alarm.command("list")
@click.option("--state", type=click.Choice(alarms.STATES), default=None)
@click.option("--open", "open_only", is_flag=True, help="only alarms still open (received or acknowledged)")
@click.option("--limit", default=100, show_default=True, type=int)
@json_option
@with_db
def alarm_list(db, settings, state, open_only, limit, as_json):
    """List alarms, newest first (without resident details)."""
    found = [dict(a, resident=None) for a in alarms.list_alarms(db, state=state, open_only=open_only, limit=limit)]
    output(found, ["id", "device_id", "ref", "kind", "state", "stage", "received_at", "acknowledged_by"], as_json)


@click.group()
def resident():
    """Residents behind call buttons (personal data: caregivers and admins only)."""


@resident.command("list")
@json_option
@with_db
def resident_list(db, settings, as_json):
    """List residents and their call buttons."""
    found = [dict(r, devices=",".join(r["devices"])) if not as_json else r for r in residents.list_residents(db)]
    output(found, ["id", "name", "room", "address", "devices"], as_json)


@resident.command("add")
@click.argument("name")
@click.option("--room", default=None)
@click.option("--address", default=None)
@click.option("--contact", "contacts", multiple=True, help='"Name, phone[, relation]" (repeatable)')
@click.option("--notes", default=None)
@with_db(creates=True)
def resident_add(db, settings, name, room, address, contacts, notes):
    """Add a resident; prints the id."""
    parsed = []
    for text in contacts:
        parts = [p.strip() or None for p in text.split(",")] + [None, None]
        parsed.append({"name": parts[0], "phone": parts[1], "relation": parts[2]})
    created = residents.create_resident(db, users.cli_principal(), name, address, room, parsed, notes)
    click.echo("resident %d added" % created["id"])


@resident.command("assign")
@click.argument("resident_id", type=int)
@click.argument("device_id")
@with_db
def resident_assign(db, settings, resident_id, device_id):
    """Assign a call button to a resident."""
    residents.assign(db, users.cli_principal(), resident_id, device_id)
    click.echo("%s assigned to resident %d" % (device_id, resident_id))


@resident.command("unassign")
@click.argument("resident_id", type=int)
@click.argument("device_id")
@with_db
def resident_unassign(db, settings, resident_id, device_id):
    """Take a call button away from a resident."""
    residents.unassign(db, users.cli_principal(), resident_id, device_id)
    click.echo("%s unassigned from resident %d" % (device_id, resident_id))


@click.group("escalation")
def escalation_group():
    """Escalation policies: who is notified when an alarm stays unacknowledged."""


@escalation_group.command("list")
@json_option
@with_db
def escalation_list(db, settings, as_json):
    """List policies ('*' is the default)."""
    found = escalation.list_policies(db)
    if not as_json:
        found = [dict(p, stages=", ".join("%ds:%s" % (s["after_s"], s["group"]) for s in p["stages"])) for p in found]
    output(found, ["site", "stages", "updated_at", "updated_by"], as_json)


@escalation_group.command("set")
@click.argument("site")
@click.option("--stage", "stages", multiple=True, required=True,
              help="AFTER_S:GROUP, e.g. 60:backup (repeat, in order)")
@with_db(creates=True)
def escalation_set(db, settings, site, stages):
    """Set a site's stages ('*' for the default)."""
    parsed = []
    for text in stages:
        after, _, group = text.partition(":")
        if not after.strip().isdigit() or not group:
            raise click.BadParameter("use AFTER_S:GROUP, e.g. 60:backup", param_hint="--stage")
        parsed.append({"after_s": int(after), "group": group.strip()})
    escalation.set_policy(db, users.cli_principal(), site, parsed)
    click.echo("escalation of %s: %s" % (site, ", ".join(stages)))


@escalation_group.command("clear")
@click.argument("site")
@with_db
def escalation_clear(db, settings, site):
    """Remove a site's own policy (the default applies)."""
    escalation.delete_policy(db, users.cli_principal(), site)
    click.echo("escalation policy of %s removed" % site)


COMMANDS = (alarm, resident, escalation_group)
