"""Facilities' commands of `fleet` (added to it in fleet/cli.py): assets, teams and routing,
Open311 app keys."""

import click

import devproto.assetcode as assetcode

from fleet.clikit import json_option, output, with_db
from fleet.domain import users
from fleet.facilities import assets, workorders
from fleet.store.db import write_tx


@click.group()
def asset():
    """Public facilities with a QR code: streetlights, manhole covers, bins."""


@asset.command("list")
@click.option("--type", "asset_type", type=click.Choice(assets.TYPES), default=None)
@click.option("--limit", default=100, show_default=True, type=int)
@json_option
@with_db
def asset_list(db, settings, asset_type, limit, as_json):
    """List assets with their public codes."""
    output(assets.list_assets(db, type=asset_type, limit=limit),
           ["id", "label", "type", "name", "address", "area", "device_id", "fault"], as_json)


@asset.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@with_db(creates=True)
def asset_import(db, settings, csv_file):
    """Import assets from a CSV file (columns: type, code, name, lat, lon, address, area, maintainer,
    install_date, device_id, notes); one bad line imports nothing."""
    done = assets.import_csv(db, users.cli_principal(), csv_file.read())
    click.echo("%d assets imported" % done["created"])


@asset.command("url")
@click.argument("code")
@click.option("--base", default=None, help="public base URL [default: FLEET_PUBLIC_URL]")
@with_db
def asset_url(db, settings, code, base):
    """Print the public URL of an asset's code (what its QR label holds)."""
    canonical = assetcode.normalise(code)
    if canonical is None or assets.by_code(db, canonical) is None:
        raise click.ClickException("no asset has code %r" % code)
    click.echo(assetcode.public_url(base or settings.public_url or "http://127.0.0.1:8000", canonical))


@click.group()
def team():
    """Teams of technicians and which assets they look after (routing by type and area)."""


@team.command("set")
@click.argument("name")
@click.option("--member", "members", multiple=True, help="username (repeatable)")
@click.option("--escalate-to", default=None, help="group told when an order is overdue")
@click.option("--title", default=None)
@with_db
def team_set(db, settings, name, members, escalate_to, title):
    """Create or change a team (its members are replaced)."""
    with write_tx(db):
        workorders.save_team(workorders.LocalTx(db), users.cli_principal(), name, title, escalate_to, members)
    click.echo("team %s saved" % name)


@team.command("route")
@click.argument("asset_type")
@click.argument("area")
@click.argument("team_name")
@with_db
def team_route(db, settings, asset_type, area, team_name):
    """Send work on assets of ASSET_TYPE in AREA ('*' for any) to TEAM_NAME."""
    with write_tx(db):
        workorders.set_route(workorders.LocalTx(db), users.cli_principal(), asset_type, area, team_name)
    click.echo("%s in %s -> %s" % (asset_type, area, team_name))


COMMANDS = (asset, team)
