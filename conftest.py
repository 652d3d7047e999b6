"""Suite-wide ordering for the parallel run (pytest-xdist, three workers: pyproject.toml).

Tests marked `long` (minutes of virtual boards) are handed out first, so the run does not end
with one worker alone on a long test. Tests that must not share the machine with each other
carry an xdist_group and run one after another on one worker (`--dist loadgroup`).
"""


def pytest_configure(config):
    config.addinivalue_line("markers", "long: runs for minutes; started first in the parallel run")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("long") is None)   # stable: else as collected
