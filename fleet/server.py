"""Running the app under uvicorn: one process, one event loop (uvloop, httptools).

FleetServer prints the real URL once it listens (so `--port 0` is usable by scripts and
tests) and can call a function then - the demo uses that to start virtual boards.
uvicorn_config() sets the connection limits and timeouts (fleet.connections) and which
proxies are believed about the client's address.
"""

import errno
import gc
import logging
import socket
import threading

import uvicorn

from fleet import logs
from fleet.connections import ConnectionGuard, connection_cap, guarded_protocol, raise_file_limit
from fleet.errors import Conflict, Invalid
from fleet.main import create_app

log = logging.getLogger("fleet")


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
        self.url = "%s://%s:%d" % ("https" if self.config.ssl_certfile else "http", host, port)
        print("Fleet manager listening on %s" % self.url, flush=True)
        if self.on_started is not None:
            # In a thread: the hook may block (start processes, enroll boards) while we serve.
            threading.Thread(target=self.on_started, args=(self.url,), name="fleet-on-started", daemon=True).start()


    async def shutdown(self, sockets=None):
        if self.runtime is not None and self.runtime.loop is not None:
            self.runtime.begin_shutdown()
        await super().shutdown(sockets=sockets)


def uvicorn_config(app, settings, **overrides):
    """uvicorn's Config for app: guarded connections (limits and timeouts from settings)."""
    before, limit = raise_file_limit()
    cap = connection_cap(settings.max_connections, limit)
    if before != limit:
        log.info("open-files limit raised from %d to %d (the hard limit)", before, limit)
    log.info("open-files limit %d: at most %d connections at once", limit, cap)
    guard = ConnectionGuard(cap, settings.header_timeout_s, settings.body_timeout_s)
    app.state.fleet.connections = guard
    options = dict(host=settings.host, port=settings.port, log_level=settings.log_level,
                   access_log=settings.access_log, timeout_graceful_shutdown=5, http=guarded_protocol(guard),
                   timeout_keep_alive=settings.keepalive_timeout_s, proxy_headers=True,
                   forwarded_allow_ips=settings.forwarded_allow_ips,
                   log_config=None)     # uvicorn's loggers go through ours (fleet.logs)
    if settings.tls_cert:
        options.update(ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key)
    options.update(overrides)
    return uvicorn.Config(app, **options)


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
    logs.configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    return FleetServer(uvicorn_config(app, settings), app.state.fleet, on_started)


def serve(settings, on_started=None, sock=None):
    """Serve until SIGINT/SIGTERM; returns normally after a graceful shutdown (a Ctrl-C included)."""
    sock = sock or bind(settings.host, settings.port)
    try:
        make_server(settings, on_started).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shut down gracefully, then re-raised the SIGINT it caught: the stop was asked for.
        pass
