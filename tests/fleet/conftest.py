"""Fixtures for the fleet tests: real SQLite files in tmp_path, the app in-process (TestClient)
or as a real uvicorn server on an ephemeral loopback port, signed device clients, users per role."""

import threading
import time
import warnings

import pytest
from argon2 import PasswordHasher

warnings.filterwarnings("ignore", message=".*httpx2.*")   # starlette's TestClient nags about httpx
from fastapi.testclient import TestClient  # noqa: E402

from fleet.core import security  # noqa: E402
from fleet.core.config import Settings  # noqa: E402
from fleet.main import create_app  # noqa: E402
from fleet.server import FleetServer, uvicorn_config  # noqa: E402
from fleet.schema import open_db  # noqa: E402

from fleetkit import bearer, enroll  # noqa: E402


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    # argon2 defaults cost ~50 ms a hash on purpose; tests hash many passwords.
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# Debian's chromium (the Makefile installs it), headless, as the browser tests all launch it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser():
    """A real headless Chromium (Playwright drives it), closed after the test."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def settings(tmp_path):
    return Settings(db=tmp_path / "fleet.db", status_interval_s=0.05, identity_ttl_s=5.0)


@pytest.fixture
def db(settings):
    database = open_db(settings.db)
    yield database
    database.close()


@pytest.fixture
def client(settings, db):
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def live_server(settings, db):
    """A real uvicorn server in a thread on 127.0.0.1:<ephemeral>, configured as `fleet serve` does
    (connection limits and timeouts); yields its base URL."""
    app = create_app(settings)
    server = FleetServer(uvicorn_config(app, settings, host="127.0.0.1", port=0, log_level="warning"),
                         app.state.fleet, freeze_gc=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while server.url is None and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    assert server.url, "server did not start"
    yield server.url
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def device(client, db):
    return enroll(client, db)


@pytest.fixture
def admin_headers(db):
    return bearer(db, "admin")
