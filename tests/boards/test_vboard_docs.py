"""The docs cover what exists: every CLI command, API method, world key and board field."""

from pathlib import Path

import pytest

from boards import list_boards, load_board
from boards.virtual.api import BoardFarm, VirtualBoard
from boards.virtual.cli import main
from boards.virtual.world import WORLD

DOCS = Path(__file__).resolve().parents[2] / "docs"
VB = (DOCS / "virtual-board.md").read_text()
BOARDS = (DOCS / "boards.md").read_text()


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_cli_command_is_documented(command):
    assert "`vboard %s" % command in VB


@pytest.mark.parametrize("name", sorted(n for n in dir(VirtualBoard) if not n.startswith("_")))
def test_every_board_method_is_documented(name):
    assert "`%s" % name in VB


@pytest.mark.parametrize("name", sorted(n for n in dir(BoardFarm) if not n.startswith("_")))
def test_every_farm_method_is_documented(name):
    assert "`farm.%s" % name in VB or "`BoardFarm.%s" % name in VB


@pytest.mark.parametrize("key", sorted(WORLD))
def test_every_world_key_is_documented(key):
    assert "| `%s` |" % key in VB


@pytest.mark.parametrize("name", list_boards())
def test_every_board_and_field_is_documented(name):
    assert "`%s`" % name in BOARDS
    for key in load_board(name):
        assert "`%s" % key in BOARDS, key
