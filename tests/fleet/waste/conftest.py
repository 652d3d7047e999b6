"""Fixtures of the smart bin tests (the fleet tests' fixtures apply too: db, client, live_server...)."""

import pytest

from fleet.core.config import Settings


@pytest.fixture
def settings(tmp_path):
    # A small district around the depot; the solver gets a second.
    return Settings(db=tmp_path / "fleet.db", status_interval_s=0.05, identity_ttl_s=5.0, waste_depot_lat=31.23,
                    waste_depot_lon=121.47, waste_trucks=2, waste_truck_l=2000, waste_plan_time_s=1.0)
