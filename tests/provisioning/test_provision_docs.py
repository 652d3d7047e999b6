"""docs/technician.md covers every command and every error a technician can meet."""

from pathlib import Path

import pytest

from provisioning import errors
from provisioning.cli import main

DOC = (Path(__file__).resolve().parents[2] / "docs" / "technician.md").read_text()


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_is_in_the_guide(command):
    assert "provision %s" % command in DOC


def _error_classes():
    return sorted({c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ProvisionError)
                   and c is not errors.ProvisionError}, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_names_a_fix(cls):
    assert cls.fix and cls.fix != errors.ProvisionError.fix and cls.code != errors.ProvisionError.code


def test_failure_table_has_a_row_for_each_kind_of_failure():
    table = DOC.split("## When something goes wrong", 1)[1]
    for words in ("no permission", "held by process", "brltty", "download mode", "built for ESP32-C3",
                  "4 MB of flash", "lost the board", "did not start", "expired", "reach the fleet",
                  "refused your API token", "no hello", "line N", "already provisioned",
                  "Improv error 0x03", "Improv error 0x04", "no Improv answer"):
        assert words in table, words
