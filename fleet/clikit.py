"""What every `fleet` command is made of (fleet/cli.py and each capability's cli.py): --db and an
open database, tables, --json.

A command that only reads never creates a database: a missing file is an error that says which
file was looked for and how to choose another. Errors from the Python API (fleet.errors) become one
line on stderr and exit status 1. The database is opened by the function the top command puts in
the click context (fleet.schema.open_db: every migration of the core and the capabilities), so this
module knows no capability.
"""

import functools
import json
from pathlib import Path

import click

from fleet.core.config import Settings
from fleet.demolock import running_demo
from fleet.errors import FleetError

OPEN_DB = "fleet.open_db"          # ctx.meta key: path -> migrated database (set by fleet.cli.main)


def settings_from(db=None, **overrides):
    return Settings.from_env(db=db, **overrides)


def with_db(fn=None, *, creates=False):
    """Add --db and pass an open (migrated) database as `db`; turn FleetErrors into clean exits.

    A command that only reads never creates a database: a missing file is an error that says which
    file was looked for and how to choose another. Commands that set up a new fleet (creates=True)
    create it and say so on stderr."""
    if fn is None:
        return functools.partial(with_db, creates=creates)

    @click.option("--db", "db_path", envvar="FLEET_DB", type=click.Path(dir_okay=False),
                  help="SQLite database file [env FLEET_DB; default var/fleet.db]")
    @functools.wraps(fn)
    def wrapper(db_path, **kwargs):
        settings = settings_from(db_path)
        path = settings.db
        if not path.exists():
            if not creates:
                raise click.ClickException(missing_db_message(path))
            click.echo("Creating a new fleet database: %s" % path.resolve(), err=True)
        click.get_current_context().meta["fleet.db"] = path
        db = click.get_current_context().meta[OPEN_DB](path)
        try:
            return fn(db=db, settings=settings, **kwargs)
        except FleetError as exc:
            raise click.ClickException(exc.message)
        finally:
            db.close()
    return wrapper


def missing_db_message(path):
    """Which database was looked for, where the choice came from, and the ones that exist nearby."""
    ctx = click.get_current_context()
    source = ctx.get_parameter_source("db_path")
    how = {click.core.ParameterSource.COMMANDLINE: "given with --db",
           click.core.ParameterSource.ENVIRONMENT: "from FLEET_DB"}.get(source, "the default: FLEET_DB is not set")
    lines = ["no fleet database at %s (%s); nothing was created." % (path.resolve(), how),
             "Choose one with --db FILE or `export FLEET_DB=FILE`."]
    folder = path.resolve().parent
    demo = running_demo(folder)
    if demo and demo.get("db"):
        lines.append("The demo running at %s uses %s: `export FLEET_DB=%s`."
                     % (demo.get("url") or "(starting)", demo["db"], demo["db"]))
    elif folder.is_dir():
        nearby = sorted(p.name for p in folder.glob("*.db"))
        if nearby:
            lines.append("Databases in %s: %s." % (folder, ", ".join(nearby)))
    return "\n".join(lines)


def table(items, columns):
    if not items:
        click.echo("(none)")
        db = click.get_current_context().meta.get("fleet.db")
        if db is not None:
            click.echo("(database %s)" % Path(db).resolve(), err=True)
        return
    cells = [[("" if item.get(c) is None else str(item.get(c))) for c in columns] for item in items]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def output(items, columns, as_json):
    if as_json:
        click.echo(json.dumps(items, indent=2))
    else:
        table(items, columns)


json_option = click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
