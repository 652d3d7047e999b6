"""A real fleet manager for HIL tests: `fleet serve` in its own process on a temp database,
over HTTPS when given a test PKI (hil_tests/pki.py).

The process can be killed with SIGKILL and started again on the same port (boards keep the URL),
which is how the reliability tests take the server down mid-traffic. Test code talks to it only
over HTTP with an admin API token, as a tool would.
"""

import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

_FLEET = [sys.executable, "-c", "from fleet.cli import main; main()"]
_LISTENING = re.compile(r"Fleet manager listening on (https?://\S+)")


class FleetProcessError(RuntimeError):
    pass


def fleet_cli(db, *args, timeout=60):
    """Run one `fleet` command against db; return its stdout (FleetProcessError if it fails)."""
    r = subprocess.run(_FLEET + list(args) + ["--db", str(db)], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise FleetProcessError("fleet %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout


class FleetProcess:
    """`fleet serve` on 127.0.0.1. start() picks a free port the first time and keeps it after."""

    def __init__(self, workdir, log_path=None, env=None, pki=None):
        self.workdir = Path(workdir)
        self.pki = pki                    # hil_tests.pki.Pki: serve HTTPS with its certificate
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db = self.workdir / "fleet.db"
        self.log_path = Path(log_path or self.workdir / "fleet.log")
        self.env = dict(os.environ, **(env or {}))
        self.port = 0
        self.url = None
        self.proc = None
        self.token = None
        self.starts = 0

    # ---- set-up through the CLI, as an operator would -----------------------------------
    def bootstrap(self, username="hil-admin"):
        """Create an admin and an API token for it (before the first start)."""
        fleet_cli(self.db, "user", "add", username, "--role", "admin")
        out = fleet_cli(self.db, "token", "create", "--user", username, "--name", "hil tests")
        self.token = out.strip().splitlines()[-1].strip()
        return self.token

    # ---- process --------------------------------------------------------------------------
    def start(self, timeout=30.0):
        if self.running:
            return self.url
        log = open(self.log_path, "ab")
        log.write(b"--- start %d ---\n" % (self.starts + 1))
        log.flush()
        cmd = _FLEET + ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--db", str(self.db),
                        "--log-level", "warning"]
        if self.pki is not None:
            cmd += ["--tls-cert", str(self.pki.cert_path), "--tls-key", str(self.pki.key_path)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=self.env, cwd=self.workdir)
        url = self._wait_listening(timeout)
        # Keep draining stdout into the log so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(self.proc, log), daemon=True).start()
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.starts += 1
        return url

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    break
                continue
            text = line.decode(errors="replace")
            lines.append(text)
            m = _LISTENING.search(text)
            if m:
                return m.group(1)
        self.kill()
        raise FleetProcessError("fleet did not start: %s (see %s)" % ("".join(lines[-5:]).strip(), self.log_path))

    @staticmethod
    def _drain(proc, log):
        for line in proc.stdout:
            log.write(line)
            log.flush()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: no shutdown handlers, no last commit - a crash."""
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self):
        if self.running:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self):
        self.kill()
        return self.start()

    # ---- the admin API over HTTP -------------------------------------------------------------
    def client(self, timeout=10.0):
        return httpx.Client(base_url=self.url, headers={"Authorization": "Bearer %s" % self.token},
                            timeout=timeout,
                            verify=ssl.create_default_context(cafile=str(self.pki.ca_path)) if self.pki else True)

    def api(self, method, path, **kw):
        with self.client() as c:
            r = c.request(method, path, **kw)
        if r.status_code >= 400:
            raise FleetProcessError("%s %s -> %d %s" % (method, path, r.status_code, r.text))
        return r.json() if r.content else None

    def enrollment_token(self, role=None, board=None, site=None, expires_in_s=3600):
        body = {"expires_in_s": expires_in_s, "count": 1}
        for k, v in (("role", role), ("board", board), ("site", site)):
            if v is not None:
                body[k] = v
        return self.api("POST", "/api/v1/enrollment-tokens", json=body)[0]["token"]

    def devices(self, **params):
        return self.api("GET", "/api/v1/devices", params=params)

    def device(self, device_id):
        return self.api("GET", "/api/v1/devices/%s" % device_id)

    def device_by_hw(self, hw_id):
        for d in self.devices(limit=10000):
            if d.get("hw_id") == hw_id:
                return d
        return None

    def events(self, device_id, limit=1000, **params):
        return self.api("GET", "/api/v1/devices/%s/events" % device_id, params=dict(params, limit=limit))
