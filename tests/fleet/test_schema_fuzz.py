"""Fuzz the whole HTTP API from its own OpenAPI schema (schemathesis, over real HTTP):
no input may cause a 500, and every answer must match what the schema promises."""

import json
import tempfile
from pathlib import Path

import devproto
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from fleet.core.config import Settings
from fleet.main import create_app
from fleetkit import count


CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]


@pytest.fixture
def fleet_schema(live_server):
    return schemathesis.openapi.from_url(live_server + "/openapi.json")


schema = schemathesis.pytest.from_fixture("fleet_schema").exclude(
    path=["/api/v1/live/devices", "/api/v1/live/alarms"])   # they never end


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails(case, live_server, admin_headers):
    headers = admin_headers if not case.path.startswith("/api/v1/device/") else None
    case.call_and_validate(base_url=live_server, headers=headers, checks=CHECKS, timeout=70)


# The schema of an app on a database of its own (never the checkout's var/: four xdist workers
# import this module at once).
with tempfile.TemporaryDirectory(prefix="fleet-schema-") as _scratch:
    DEVICE_BODIES = schemathesis.openapi.from_dict(create_app(Settings.from_env(
        db=Path(_scratch) / "fleet.db")).openapi())


def integral(value):
    """JSON Schema counts 3.0 as an integer, the protocol does not: send such numbers as 3."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


@pytest.mark.parametrize("path", [devproto.PATH_HELLO, devproto.PATH_EVENTS])
@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_signed_device_bodies_never_fail(client, device, db, path, data):
    """Bodies drawn from the device schemas, correctly signed: stored and acked, or refused with a
    protocol code - never a 500, never a half-stored batch."""
    case = data.draw(DEVICE_BODIES[path]["POST"].as_strategy())
    before = count(db, "events")
    response = device.request("POST", path, json.dumps(integral(case.body)).encode())
    body = response.json()
    assert response.status_code in (200, 400, 413), body
    if response.status_code == 200:
        assert "down" in body and isinstance(body["ack"], int)
        if path == devproto.PATH_EVENTS:
            assert count(db, "events") - before == body["stored"]
    else:
        assert devproto.ERRORS[body["error"]["code"]] == response.status_code
        assert count(db, "events") == before
