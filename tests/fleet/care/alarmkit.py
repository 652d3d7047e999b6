"""Helpers of the alarm tests: device events of protocol v1, people, a webhook receiver, an SSE
reader and a fleet server that can be stopped and started again on the same database."""

import http.server
import json
import queue
import re
import threading
import time
from pathlib import Path

import httpx
import uvicorn

import fleetkit  # tests/fleet (pytest puts conftest folders on sys.path)
from fleet.care import escalation
from fleet.main import create_app
from fleet.server import FleetServer
from fleetkit import CLI, make_user


def now():
    return int(time.time())


def alarm(seq, ref, kind="call", t=None, **data):
    return {"seq": seq, "t": now() if t is None else t, "type": "alarm",
            "data": dict({"ref": ref, "kind": kind}, **data)}


def cancel(seq, ref, t=None):
    return {"seq": seq, "t": now() if t is None else t, "type": "alarm_cancel", "data": {"ref": ref}}


def battery_low(seq, volts, days_left=30):
    return {"seq": seq, "t": now(), "type": "battery_low", "data": {"battery_v": volts, "days_left": days_left}}


def heartbeat(seq, **data):
    return {"seq": seq, "t": now(), "type": "heartbeat", "data": data}


def person(db, role):
    """(Authorization headers, username) of a fresh user with role."""
    from fleet.domain import credentials
    user = make_user(db, role)
    _, token = credentials.create_token(db, CLI, user["id"], "tests")
    return {"Authorization": "Bearer " + token}, user["username"]


def set_policy(db, site, *stages):
    """stages: (after_s, group) pairs."""
    return escalation.set_policy(db, CLI, site, [{"after_s": a, "group": g} for a, g in stages])


def the_alarm(client, headers, device_id, ref=None):
    found = client.get("/api/v1/alarms", params={"device_id": device_id}, headers=headers).json()
    if ref is not None:
        found = [a for a in found if a["ref"] == ref]
    assert len(found) == 1, found
    return found[0]


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    return fleetkit.wait_for(predicate, timeout, interval, what)


# ---- a real webhook receiver ---------------------------------------------------------------

ALARMS_DOC = Path(__file__).resolve().parents[3] / "docs" / "alarms.md"


def verify_as_the_docs_say():
    """The `verify(secret, headers, body)` function that docs/alarms.md gives receivers, run as written."""
    section = ALARMS_DOC.read_text().split("### Request and signature", 1)[1].split("\n### ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)
    namespace = {}
    exec(code, namespace)
    return namespace["verify"]


class LowerCaseHeaders(dict):
    """Headers looked up case-insensitively, as every web framework offers them."""

    def __init__(self, headers):
        super().__init__((k.lower(), v) for k, v in headers.items())

    def __getitem__(self, name):
        return super().__getitem__(name.lower())


class Receiver:
    """An HTTP server on 127.0.0.1 that checks each request's signature with `secret` - with the
    code docs/alarms.md gives receivers - and answers 500 to the first `fail_first` requests, then
    200. `hold` (a threading.Event) makes every request wait until it is set."""

    def __init__(self, secret=None, fail_first=0, hold=None):
        self.secret = secret
        self.fail_first = fail_first
        self.hold = hold
        self.requests = []          # dicts: at, headers, body, json, valid, answered
        self.lock = threading.Lock()
        receiver = self
        verify = verify_as_the_docs_say()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                entry = {"at": time.time(), "headers": dict(self.headers), "body": body, "json": json.loads(body)}
                entry["valid"] = receiver.secret is not None and verify(
                    receiver.secret, LowerCaseHeaders(self.headers), body)
                with receiver.lock:
                    receiver.requests.append(entry)
                    failing = len(receiver.requests) <= receiver.fail_first
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                code = 500 if failing else 200
                entry["answered"] = code
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def of_event(self, event):
        with self.lock:
            return [r for r in self.requests if r["json"]["event"] == event]


# ---- server-sent events --------------------------------------------------------------------

class SSE:
    """Read a text/event-stream in a thread; next(kind) returns the data of the next such event."""

    def __init__(self, http, path, headers):
        self.queue = queue.Queue()
        self._cm = http.stream("GET", path, headers=headers)
        self.response = self._cm.__enter__()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        kind, data = None, []
        try:
            for line in self.response.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and kind:
                    self.queue.put((kind, json.loads("\n".join(data)), time.time()))
                    kind, data = None, []
        except httpx.HTTPError:
            pass

    def next(self, kind, timeout=10, where=None):
        deadline = time.monotonic() + timeout
        while True:
            got, data, at = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            if got == kind and (where is None or where(data)):
                return data

    def close(self):
        self._cm.__exit__(None, None, None)


# ---- a fleet server that can be restarted ----------------------------------------------------

class Server:
    """uvicorn on 127.0.0.1:<ephemeral> in a thread, like tests/fleet's live_server, but startable
    and stoppable any number of times on one database (a restart is a new app and runtime)."""

    def __init__(self, settings):
        self.settings = settings
        self.url = None
        self.app = None
        self._server = None
        self._thread = None

    def start(self):
        self.app = create_app(self.settings)
        self._server = FleetServer(uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning",
                                                  timeout_graceful_shutdown=5), self.app.state.fleet, freeze_gc=False)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server.url or not self._thread.is_alive(), what="server start")
        assert self._server.url, "server did not start"
        self.url = self._server.url
        return self

    @property
    def runtime(self):
        return self.app.state.fleet

    def stop(self):
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(15)
            assert not self._thread.is_alive(), "server did not stop"
            self._server = None
