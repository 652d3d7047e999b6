"""Fixtures of the alarm tests (the fleet tests' fixtures apply too: db, client, live_server...)."""

import pytest

from fleet.core.config import Settings


@pytest.fixture
def settings(tmp_path):
    # Fast timers: supervision every 50 ms, battery scan every 100 ms, webhook retries from 0.2 s.
    return Settings(db=tmp_path / "fleet.db", status_interval_s=0.05, identity_ttl_s=5.0, battery_scan_s=0.1,
                    webhook_backoff_s=0.2, webhook_backoff_max_s=2.0, webhook_max_attempts=4, webhook_timeout_s=3.0)


@pytest.fixture
def caregiver(db):
    from alarmkit import person
    return person(db, "caregiver")
