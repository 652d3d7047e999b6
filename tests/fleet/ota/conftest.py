"""Fixtures of the OTA tests (the fleet tests' fixtures apply too: db, client, live_server...)."""

import pytest

from fleet.ota import signing, releases
from otakit import ADMIN


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Two release keys for the session: {"a": (private path, public pem bytes, id), "b": ...}."""
    folder = tmp_path_factory.mktemp("release-keys")
    out = {}
    for name in ("a", "b"):
        kid = signing.generate(folder)
        out[name] = (folder / (kid + ".pem"), (folder / (kid + ".pub.pem")).read_bytes(), kid)
    return out


@pytest.fixture
def trusted(db, keys):
    """The fleet trusts key a; returns its private key path."""
    releases.trust_key(db, ADMIN, keys["a"][1])
    return keys["a"][0]
