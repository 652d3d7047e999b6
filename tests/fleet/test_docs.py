"""The operations guide documents every `fleet` command and every setting; the architecture
page names the hook functions that exist."""

import dataclasses
import re
from pathlib import Path

import click

from fleet import cli
from fleet.core.config import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
OPERATIONS = (DOCS / "operations.md").read_text()
ARCHITECTURE = (DOCS / "architecture.md").read_text()


def command_paths(group, prefix=("fleet",)):
    for name, command in group.commands.items():
        path = prefix + (name,)
        if isinstance(command, click.Group):
            yield from command_paths(command, path)
        else:
            yield path, command


def test_every_command_and_option_is_documented():
    for path, command in command_paths(cli.main):
        assert " ".join(path) in OPERATIONS, " ".join(path)
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in ("as_json",):
                assert any(opt in OPERATIONS for opt in param.opts), (" ".join(path), param.opts)


def test_every_setting_is_documented():
    for field in dataclasses.fields(Settings):
        name = "FLEET_" + field.name.upper()
        assert re.search(r"`%s`" % name, OPERATIONS), name
    documented = set(re.findall(r"`(FLEET_[A-Z_]+)`", OPERATIONS))
    assert documented <= set(Settings.env_names()), documented - set(Settings.env_names())


def test_settings_come_from_the_environment():
    s = Settings.from_env({"FLEET_PORT": "9000", "FLEET_SECURE_COOKIES": "yes", "FLEET_DB": "/x/y.db",
                           "FLEET_REPORT_INTERVALS_OFFLINE": "3.5"}, port=None, host="0.0.0.0")
    assert (s.port, s.secure_cookies, str(s.db), s.report_intervals_offline, s.host) == (
        9000, True, "/x/y.db", 3.5, "0.0.0.0")
    assert s.key_path == Path("/x/fleet.key")


def test_a_bad_setting_says_which():
    import pytest
    from fleet.errors import Invalid
    with pytest.raises(Invalid, match="FLEET_PORT"):
        Settings.from_env({"FLEET_PORT": "eighty"})


def test_hook_functions_named_in_the_architecture_exist():
    from fleet import demo, live
    from fleet.domain import downlink, guards, ingest, status, writer
    from fleet.web import pages
    hooks = {"register_event_handler": ingest, "register_downlink_provider": downlink,
             "register_update_guard": guards, "update_blocked": guards,
             "raise_cursors": downlink, "register_status_rule": status, "register_status_listener": status,
             "start_virtual_fleet": demo, "register_templates": pages, "register_nav_link": pages, "page": pages}
    for name, module in hooks.items():
        assert name in ARCHITECTURE and callable(getattr(module, name)), name
    for method, owner in (("mark_downlink_changed", writer.WriteTx), ("after_commit", writer.WriteTx),
                          ("bump", downlink.Downlink), ("call", writer.GroupCommitWriter),
                          ("publish", live.Hub), ("subscribe", live.Hub)):
        assert method in ARCHITECTURE and callable(getattr(owner, method)), method


def test_the_architecture_maps_every_module_of_the_top_and_of_each_capability():
    """The folder map in architecture.md names each module a capability is made of, and the
    capability parts a Capability hands the server."""
    import dataclasses
    from fleet.capability import Capability
    fleet = Path(__file__).resolve().parents[2] / "fleet"
    for capability in (p.parent for p in fleet.glob("*/capability.py")):
        assert "%s/" % capability.name in ARCHITECTURE, capability.name
        for module in capability.rglob("*.py"):
            if module.name != "__init__.py":
                assert module.name in ARCHITECTURE, module.relative_to(fleet)
    for name in ("main.py", "schema.py", "cli.py", "capability.py", "runtime.py"):
        assert name in ARCHITECTURE, name
    for field in dataclasses.fields(Capability):
        assert "`%s`" % field.name in ARCHITECTURE, field.name
