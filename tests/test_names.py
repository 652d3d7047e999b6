"""Every name the code uses is defined: pyflakes over the whole tree, firmware included.

A renamed module global left behind in one function (call_button.may_update still read `_s`
after `_s` became `_state`) is found here in a second, not by a board's NameError in an OTA run.
"""

from pathlib import Path

import pyflakes.api
import pyflakes.messages
import pyflakes.reporter

ROOT = Path(__file__).resolve().parent.parent
TREES = ("firmware", "boards", "fleet", "provisioning", "hil_tests", "tests", "benchmarks")
# Built into MicroPython's interpreter (py/builtinevex.c: execfile on ports with file support).
MICROPYTHON_BUILTINS = {"execfile"}
# `del` of a module-level helper after its one use at import time (pyflakes cannot follow it).
DELETED_AFTER_USE = {("boards/virtual/shims/_vblaunch.py", "_mount_vfs")}


class Collect(pyflakes.reporter.Reporter):
    def __init__(self):
        self.found = []

    def unexpectedError(self, filename, msg):
        self.found.append("%s: %s" % (filename, msg))

    def syntaxError(self, filename, msg, lineno, offset, text):
        self.found.append("%s:%s: %s" % (filename, lineno, msg))

    def flake(self, message):
        if not isinstance(message, pyflakes.messages.UndefinedName):
            return
        name = message.message_args[0]
        rel = Path(message.filename).resolve().relative_to(ROOT).as_posix()
        if name in MICROPYTHON_BUILTINS or (rel, name) in DELETED_AFTER_USE:
            return
        self.found.append(str(message))


def test_no_undefined_names_anywhere():
    report = Collect()
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            pyflakes.api.checkPath(str(path), report)
    assert not report.found, "\n".join(report.found)
