"""Waste's commands of `fleet` (added to it in fleet/cli.py): the bins registry and planning."""

import click

from fleet.clikit import json_option, output, with_db
from fleet.domain import users
from fleet.waste import bins, planning


@click.group("bins")
def bins_group():
    """Smart bins: the registry, CSV import, collection plans."""


@bins_group.command("list")
@json_option
@with_db
def bins_list(db, settings, as_json):
    """List bins with their latest fill."""
    output(bins.list_bins(db), ["id", "area", "waste_type", "capacity_l", "pct", "q", "status", "device_id"], as_json)


@bins_group.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@with_db
def bins_import(db, settings, csv_file):
    """Import bins from a CSV file (all or nothing; errors by line)."""
    n = bins.import_csv(db, users.Principal("cli", "cli", "admin"), csv_file.read())
    click.echo("%d bins imported" % n)


@bins_group.command("plan")
@click.option("--trucks", type=click.IntRange(1, 100), default=None, help="trucks (default FLEET_WASTE_TRUCKS)")
@json_option
@with_db
def bins_plan(db, settings, trucks, as_json):
    """Plan the next shift's collections and print the routes."""
    plan = planning.make_plan(db, users.Principal("cli", "cli", "admin"), settings, trucks=trucks)
    output(plan["stops"], ["truck", "seq", "bin_id", "pct", "state"], as_json)
    if not as_json:
        for left in plan["summary"]["left"]:
            click.echo("left out %s: %s" % (left["id"], left["reason"]))


COMMANDS = (bins_group,)
