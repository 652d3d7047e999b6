"""Running the app under uvicorn: one process, one event loop (uvloop, httptools when installed).

FleetServer prints the real URL once it listens (so `--port 0` is usable by scripts and
tests) and can call a function then - the demo uses that to start virtual boards.
"""

import errno
import gc
import logging
import socket
import threading

import uvicorn

from fleet.errors import Conflict, Invalid
from fleet.main import create_app


class PortInUse(Conflict):
    """Another program listens on the address and port asked for."""
    code = "port_in_use"


class FleetServer(uvicorn.Server):
    def __init__(self, config, runtime=None, on_started=None, freeze_gc=True):
        super().__init__(config)
        self.runtime = runtime
        self.on_started = on_started
        self.freeze_gc = freeze_gc
        self.url = None

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        # Everything loaded so far (FastAPI, pydantic, our modules) lives as long as the process:
        # keep it out of full garbage collections, which otherwise pause every request ~50 ms.
        if self.freeze_gc:
            gc.collect()
            gc.freeze()
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        self.url = "http://%s:%d" % (host, port)
        print("Fleet manager listening on %s" % self.url, flush=True)
        if self.on_started is not None:
            # In a thread: the hook may block (start processes, enroll boards) while we serve.
            threading.Thread(target=self.on_started, args=(self.url,), name="fleet-on-started", daemon=True).start()


    async def shutdown(self, sockets=None):
        if self.runtime is not None and self.runtime.loop is not None:
            self.runtime.begin_shutdown()
        await super().shutdown(sockets=sockets)


def bind(host, port):
    """A socket bound to host:port, before anything else starts, so a port that is taken is
    reported at once (PortInUse) and nothing has been changed yet."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise Invalid("cannot listen on %s: %s" % (host, exc.strerror))
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse("port %d on %s is already in use by another program: choose another with --port "
                            "(--port 0 picks a free one)" % (port, host))
        raise Invalid("cannot listen on %s port %d: %s" % (host, port, exc.strerror))
    return sock


def make_server(settings, on_started=None):
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=settings.access_log, timeout_graceful_shutdown=5)
    return FleetServer(config, app.state.fleet, on_started)


def serve(settings, on_started=None, sock=None):
    """Serve until SIGINT/SIGTERM; returns normally after a graceful shutdown (a Ctrl-C included)."""
    sock = sock or bind(settings.host, settings.port)
    try:
        make_server(settings, on_started).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shut down gracefully, then re-raised the SIGINT it caught: the stop was asked for.
        pass
