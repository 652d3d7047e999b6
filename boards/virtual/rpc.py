"""Client side of the host's JSON-lines RPC, and starting the vboard daemon."""

import json
import os
import socket
import subprocess
import sys
import time

from . import store
from .errors import ERRORS, ExpectTimeout, HostNotRunning, VBoardError
from .host import RPC_TIMEOUT_PAD, decode, encode


class LocalTransport:
    """Calls into a Host running in this process (in its own thread)."""

    def __init__(self, host):
        self.host = host

    def call(self, op, **args):
        try:
            return self.host.call_sync(op, args, timeout=float(args.get("timeout") or 60.0) + RPC_TIMEOUT_PAD)
        except RuntimeError as e:
            raise VBoardError("the vboard host is not running (%s)" % e)


class RemoteTransport:
    """Calls into the host serving $VBOARD_HOME (a daemon, or a BoardFarm in another process)."""

    def __init__(self, home=None, autostart=True, heapsize=None):
        self.home = store.resolve_home(home)
        self.autostart = autostart
        self.heapsize = heapsize
        self._info = None

    def _host_info(self):
        info = store.read_host(self.home)
        if not info or not store.pid_alive(info.get("pid", -1)):
            return None
        return info

    def running(self):
        info = self._host_info()
        if info is None:
            return False
        try:
            self._call(info, "ping", {}, 5)
            return True
        except (OSError, VBoardError):
            return False

    def ensure(self):
        info = self._host_info()
        if info is not None:
            try:
                self._call(info, "ping", {}, 5)
                return info
            except OSError:
                pass
        if not self.autostart:
            raise HostNotRunning("no vboard host is running for VBOARD_HOME=%s; start boards with "
                                 "`vboard up NAME` (it starts the daemon)" % self.home)
        start_daemon(self.home, self.heapsize)
        return self._host_info()

    def call(self, op, **args):
        info = self.ensure()
        return self._call(info, op, args, float(args.get("timeout") or 60.0) + RPC_TIMEOUT_PAD)

    def _call(self, info, op, args, timeout):
        with socket.create_connection(("127.0.0.1", info["rpc_port"]), timeout=timeout) as s:
            s.sendall((json.dumps({"token": info["token"], "op": op, "args": encode(args)}) + "\n").encode())
            f = s.makefile("rb")
            line = f.readline()
        if not line:
            raise VBoardError("the vboard host closed the connection during %r" % op)
        resp = decode(json.loads(line))
        if resp.get("ok"):
            return resp.get("result")
        err = resp.get("error") or {}
        kind = ERRORS.get(err.get("type"), VBoardError)
        if kind is ExpectTimeout:
            raise ExpectTimeout(err.get("message", ""), tail=err.get("tail", ""))
        raise kind(err.get("message", "vboard host error"))


def start_daemon(home, heapsize=None, timeout=20.0):
    """Start `python -m boards.virtual.daemon` for `home` in the background and wait until it answers."""
    home = store.resolve_home(home)
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "daemon.log", "ab")
    args = [sys.executable, "-m", "boards.virtual.daemon", "--home", str(home)]
    if heapsize:
        args += ["--heapsize", str(heapsize)]
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                            env=env, cwd=str(home))
    log.close()
    deadline = time.monotonic() + timeout
    t = RemoteTransport(home, autostart=False)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise VBoardError("the vboard daemon exited at start (code %s); see %s"
                              % (proc.returncode, home / "daemon.log"))
        info = store.read_host(home)
        if info and info.get("pid") == proc.pid:
            try:
                t._call(info, "ping", {}, 5)
                return proc.pid
            except OSError:
                pass
        time.sleep(0.05)
    raise VBoardError("the vboard daemon did not start within %.0f s; see %s" % (timeout, home / "daemon.log"))
