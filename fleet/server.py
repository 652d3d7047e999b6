"""Running the app under uvicorn: one process, one event loop (uvloop, httptools when installed).

FleetServer prints the real URL once it listens (so `--port 0` is usable by scripts and
tests) and can call a function then - the demo uses that to start virtual boards.
"""

import gc
import logging
import threading

import uvicorn

from fleet.main import create_app


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


def make_server(settings, on_started=None):
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    tls = {"ssl_certfile": settings.tls_cert, "ssl_keyfile": settings.tls_key} if settings.tls_cert else {}
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=settings.access_log, timeout_graceful_shutdown=5, **tls)
    return FleetServer(config, app.state.fleet, on_started)


def serve(settings, on_started=None):
    make_server(settings, on_started).run()
