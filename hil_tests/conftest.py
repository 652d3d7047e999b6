# The HIL suite's pytest plugin lives in hil_tests/plugin.py (options, `needs`, fixtures).
from hil_tests.plugin import (  # noqa: F401  (pytest finds hooks and fixtures by name)
    _needs, board, fleet, hil_log_dir, make_board, pytest_addoption, pytest_configure, rig,
)
