"""Fixtures of the provisioning tests: one BoardFarm per session, a fleet per test module (a real
`fleet serve` on loopback over plain HTTP) with a technician's API token. Tests in a module
share their fleet: each works with its own boards (MACs), tokens and devices, and asserts on
those only."""

import re

import pytest

from boards.virtual import BoardFarm
from hil_tests.fleet_process import FleetProcess, fleet_cli
from provkit import FAST_WIFI, FIRMWARE_NAME, write_firmware


@pytest.fixture(scope="session")
def farm(tmp_path_factory):
    f = BoardFarm(tmp_path_factory.mktemp("vboards"))
    yield f
    f.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    fp = FleetProcess(tmp_path_factory.mktemp("fleet"))
    fp.bootstrap()
    fleet_cli(fp.db, "user", "add", "tech", "--role", "technician")
    out = fleet_cli(fp.db, "token", "create", "--user", "tech", "--name", "van laptop")
    fp.tech_token = out.strip().splitlines()[-1].strip()
    fp.start()
    yield fp
    fp.stop()


@pytest.fixture
def firmware(tmp_path):
    return write_firmware(tmp_path / FIRMWARE_NAME)


@pytest.fixture
def blank(farm, request):
    made = []

    def make(suffix="", **kw):
        name = (re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:50] + suffix)
        b = farm.create(name, blank=True, replace=True, **kw)
        b.set_world(**FAST_WIFI)
        made.append(b)
        b.start()
        return b

    yield make
    for b in made:
        try:
            b.power_cut()
        except Exception:
            pass
