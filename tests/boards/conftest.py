"""Fixtures for the board and virtual-board tests: one in-process BoardFarm per session, boards
running the small agent firmware in fixtures/agent, and a tiny HTTP server standing in for the
fleet."""

import ast
import http.server
import re
import threading

import pytest

from agentkit import AGENT, FAST_WIFI
from boards.virtual import BoardFarm



@pytest.fixture(scope="session")
def farm(tmp_path_factory):
    f = BoardFarm(tmp_path_factory.mktemp("vboards"))
    yield f
    f.close()


class Agent:
    """A virtual board running fixtures/agent: type Python on its console, read the answer."""

    def __init__(self, board):
        self.b = board
        self.boot = None

    def wait_ready(self, timeout=15):
        m = self.b.expect(r"BOOT rc=(\d+) wake=(\d+) pins=(\([^)]*\))\r\n", timeout=timeout)
        self.boot = (int(m.group(1)), int(m.group(2)), ast.literal_eval(m.group(3)))
        m = self.b.expect(r"READY button=(\d)", timeout=timeout)
        self.button_at_boot = int(m.group(1))
        return self.boot

    def run(self, line, timeout=10):
        self.b.mark()
        self.b.write(line + "\n")
        m = self.b.expect(r"<<(ok|err [^\r\n]*)>>", timeout=timeout)
        if m.group(1) != "ok":
            raise AssertionError("%r failed on the board: %s\n%s" % (line, m.group(1), m.before))
        return m.before

    def eval(self, expr, timeout=10):
        out = self.run("?" + expr, timeout)
        found = re.findall(r"=> (.*)\r\n", out)
        assert found, out
        return ast.literal_eval(found[-1])

    def error(self, line, timeout=10):
        """Run a line that must fail; returns the error text."""
        self.b.mark()
        self.b.write(line + "\n")
        m = self.b.expect(r"<<(ok|err [^\r\n]*)>>", timeout=timeout)
        assert m.group(1) != "ok", "%r should have failed" % line
        return m.group(1)


@pytest.fixture
def make_agent(farm, request):
    made = []

    def make(name=None, board="virtual", start=True, world=None, fleet_url="http://127.0.0.1:9", **kw):
        name = name or re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:60]
        config = {"role": "call_button", "fleet_url": fleet_url,
                  "wifi": {"ssid": "lab-ap", "password": "lab-pass"}}
        b = farm.create(name, board=board, config=config, firmware_dir=AGENT, replace=True, **kw)
        b.set_world(**dict(FAST_WIFI, **(world or {})))
        made.append(b)
        a = Agent(b)
        if start:
            b.start()
            a.wait_ready()
        return a

    yield make
    for b in made:
        try:
            b.power_cut()
        except Exception:
            pass


class _Fleet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"pong " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def fleet_stub():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Fleet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
