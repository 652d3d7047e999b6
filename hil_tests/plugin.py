"""The HIL pytest plugin: options, the `needs` marker, and the rig / fleet / board fixtures.

    pytest hil_tests                                   # virtual boards (default)
    pytest hil_tests --board serial --port /dev/ttyUSB0 --fleet-host 192.168.1.20 \
           --wifi-ssid lab --wifi-password secret      # one real ESP32

Tests declare what they need from the rig with @pytest.mark.needs("power", "wifi", ...); on a
rig that cannot give it the test is skipped with the reason. Every test gets a log folder
(--hil-logs, default var/hil-logs/<test>/) holding each board's console and the fleet's log.

The fleet runs behind TLS (a test CA made per test, hil_tests/pki.py) and every board gets that
CA pinned as its `ca`: HTTPS with certificate verification is the path tested by default. A
test marked @pytest.mark.plain_http gets a plain-HTTP fleet (a man in the middle can only
rewrite what is not encrypted); --fleet-http runs every test that way.
"""

import re
import shutil
from pathlib import Path

import pytest

from hil_tests.fleet_process import FleetProcess
from hil_tests.pki import make_pki
from hil_tests.rig import CAPABILITIES, SerialRig, VirtualRig, board_config


def pytest_addoption(parser):
    g = parser.getgroup("hil", "hardware-in-the-loop")
    g.addoption("--board", dest="hil_board", choices=("virtual", "serial"), default="virtual",
                help="boards under test: virtual (default) or a real ESP32 on --port")
    g.addoption("--port", dest="hil_port", default=None,
                help="serial port or pyserial URL of the real board (/dev/ttyUSB0, socket://host:port)")
    g.addoption("--board-def", dest="hil_board_def", default="esp32-devkitc",
                help="board definition of the real board (boards/definitions/)")
    g.addoption("--fleet-host", dest="hil_fleet_host", default="127.0.0.1",
                help="address of this machine as the real board sees it")
    g.addoption("--wifi-ssid", dest="hil_wifi_ssid", default="district-iot")
    g.addoption("--wifi-password", dest="hil_wifi_password", default="lab-password")
    g.addoption("--hil-logs", dest="hil_logs", default="var/hil-logs", help="folder for per-test logs")
    g.addoption("--firmware", dest="hil_firmware", default=None,
                help="MicroPython .bin for the provisioning scenario on a real board (virtual boards use a stand-in)")
    g.addoption("--fleet-http", dest="hil_fleet_http", action="store_true",
                help="serve the fleet over plain HTTP (default: HTTPS with a test CA pinned on the boards)")


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*capabilities): rig capabilities the test uses: "
                            + ", ".join(sorted(CAPABILITIES)))
    config.addinivalue_line("markers", "plain_http: the test's fleet serves plain HTTP (no TLS)")
    if config.getoption("hil_board") == "serial" and not config.getoption("hil_port"):
        raise pytest.UsageError("--board serial needs --port (e.g. --port /dev/ttyUSB0)")
    if config.getoption("hil_board") == "serial" and (getattr(config.option, "numprocesses", None) or 0) > 0:
        # pyproject's addopts run three xdist workers; one real board cannot serve three tests at once
        raise pytest.UsageError("--board serial runs on one board: add -n 0 (no parallel workers)")


def _slug(nodeid):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@pytest.fixture(scope="session")
def rig(request, tmp_path_factory):
    opt = request.config.getoption
    if opt("hil_board") == "serial":
        r = SerialRig(opt("hil_port"), opt("hil_board_def"))
    else:
        r = VirtualRig(tmp_path_factory.mktemp("vboards"))
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _needs(request):
    marker = request.node.get_closest_marker("needs")
    if marker is None:
        return
    unknown = set(marker.args) - set(CAPABILITIES)
    if unknown:
        pytest.fail("unknown capability %s; known: %s" % (sorted(unknown), sorted(CAPABILITIES)))
    rig = request.getfixturevalue("rig")
    missing = [c for c in marker.args if c not in rig.capabilities]
    if missing:
        pytest.skip("the %s rig cannot %s" % (rig.name, "; ".join(CAPABILITIES[c] for c in missing)))


@pytest.fixture
def hil_log_dir(request):
    d = Path(request.config.getoption("hil_logs")) / _slug(request.node.nodeid)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def fleet(tmp_path, hil_log_dir, request):
    """A real fleet manager (`fleet serve`) on a fresh SQLite file, with an admin API token;
    over HTTPS with a fresh test CA unless the test is marked plain_http (or --fleet-http)."""
    pki = None
    if not (request.node.get_closest_marker("plain_http") or request.config.getoption("hil_fleet_http")):
        hosts = tuple(dict.fromkeys(("127.0.0.1", "localhost", request.config.getoption("hil_fleet_host"))))
        pki = make_pki(tmp_path / "pki", hosts=hosts)
    fp = FleetProcess(tmp_path / "fleet", log_path=hil_log_dir / "fleet.log", pki=pki)
    fp.bootstrap()
    fp.start()
    yield fp
    fp.stop()


class BoardMaker:
    """Provisions boards for one test and saves their consoles into the test's log folder."""

    def __init__(self, rig, fleet, log_dir, opt):
        self.rig, self.fleet, self.log_dir, self.opt = rig, fleet, log_dir, opt
        self.boards = []

    def __call__(self, name="dut", role="call_button", start=True, token=None, board=None, **config):
        token = token or self.fleet.enrollment_token(role=role)
        host = self.opt("hil_fleet_host")
        url = self.fleet.url.replace("127.0.0.1", host)
        pki = self.fleet.pki
        if pki is not None and "ca" not in config:
            config["ca"] = "/fleet-ca.der"             # ca=None: a board without one
        if config.get("ca", 0) is None:
            del config["ca"]
        cfg = board_config(role, url, token, self.opt("hil_wifi_ssid"), self.opt("hil_wifi_password"), **config)
        b = self.rig.provision(name, cfg, start=False, **({"board": board} if board else {}))
        self.boards.append(b)
        if pki is not None and cfg.get("ca"):
            b.deploy({cfg["ca"]: pki.ca_der})          # the device CA, pinned on the board
        if start:
            b.start()
        return b

    def save_logs(self):
        for b in self.boards:
            host_log = None     # the virtual host's copy: wall-clock stamps, its own notes (power, Wi-Fi, button)
            try:
                text = b.console_text(0)
                if self.rig.name == "virtual":
                    host_log = b.info()["console_log"]
            except Exception as ex:  # board gone: say so in its log rather than hide it
                text = "(console unavailable: %s)\n" % ex
            (self.log_dir / ("%s.log" % b.name)).write_text(text)
            if host_log is not None:
                shutil.copyfile(host_log, self.log_dir / ("%s.host.log" % b.name))


@pytest.fixture
def make_board(rig, fleet, hil_log_dir, request):
    """make_board(name, role=..., board=None, **config) -> a provisioned, powered board enrolled with
    `fleet` (board: a definition's name or path; the rig's own by default)."""
    maker = BoardMaker(rig, fleet, hil_log_dir, request.config.getoption)
    yield maker
    maker.save_logs()
    for b in maker.boards:
        try:
            b.power_cut() if rig.name == "virtual" else None
        except Exception:
            pass


@pytest.fixture
def board(make_board):
    """One provisioned board under test (a call button unless the test provisions otherwise)."""
    return make_board("dut")


def enrolled(board, fleet, timeout=30.0):
    """Wait until the board has enrolled and said hello; return its fleet device record."""
    board.expect(r"enrolled device_id=(\S+)", timeout=timeout)
    board.expect(r"hello ok", timeout=timeout)
    dev = fleet.device_by_hw(board.hw_id)
    assert dev is not None, "board %s enrolled but the fleet has no device with hw_id %s" % (board.name, board.hw_id)
    return dev
