"""Fixtures of the facilities tests (the fleet tests' fixtures apply too: db, client, live_server...)."""

import pytest

from fleet.core.config import Settings


@pytest.fixture
def settings(tmp_path):
    # A generous report budget: the tests of the limit set their own.
    return Settings(db=tmp_path / "fleet.db", status_interval_s=0.05, identity_ttl_s=5.0, report_burst=50,
                    report_per_hour=3600)
