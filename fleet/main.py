"""The FastAPI application: create_app(settings) wires routes, errors, web pages and the runtime.

Run it with `fleet serve`, or `uvicorn --factory fleet.main:create_app` (settings from FLEET_*).
"""

from fastapi_offline import FastAPIOffline
from starlette.staticfiles import StaticFiles

from fleet import i18n, schema
from fleet.api import api_router
from fleet.api import errors
from fleet.api.csrf import CsrfGuard
from fleet.api.device import DeviceFastPath
from fleet.api.headers import SecurityHeaders, tile_origins
from fleet.metrics import RequestMetrics
from fleet.care.capability import CARE
from fleet.facilities.capability import FACILITIES
from fleet.provisioning.capability import PROVISIONING
from fleet.waste.capability import WASTE
from fleet.ota.capability import OTA
from fleet.core.config import Settings
from fleet.runtime import FleetRuntime
from fleet.web import pages

VERSION = "0.1.0"
# The capabilities this fleet runs, each a package beside the core (docs/architecture.md#layout-core-and-capabilities).
# Adding one: its package, its entry here, its migrations in fleet/schema.py, its commands in fleet/cli.py.
CAPABILITIES = (CARE, WASTE, FACILITIES, OTA, PROVISIONING)


def create_app(settings=None):
    settings = settings or Settings.from_env()
    i18n.check_settings(settings)
    runtime = FleetRuntime(settings, CAPABILITIES, schema.MIGRATIONS)
    # FastAPIOffline: FastAPI with /docs and /redoc served from assets in the package, not a CDN
    # (a fleet on a closed network still has its API docs).
    app = FastAPIOffline(title="Fleet manager", version=VERSION, lifespan=runtime.lifespan,
                         description="Device protocol v1 (docs/protocol.md) and the admin API of the district fleet.")
    app.state.fleet = runtime
    # Added innermost first. Device requests take the fast path before the CSRF guard (they are
    # signed); every response, refusals included, gets the time and the security headers.
    app.add_middleware(CsrfGuard)
    app.add_middleware(DeviceFastPath, fastapi_app=app)
    app.add_middleware(errors.ServerTimeMiddleware)
    app.add_middleware(SecurityHeaders, img_origins=tile_origins(settings.map_tile_url))
    app.add_middleware(RequestMetrics, metrics=runtime.metrics)
    errors.install(app)
    app.include_router(api_router)
    app.include_router(pages.router)
    for capability in CAPABILITIES:
        for router in capability.routers:
            app.include_router(router)
        if capability.static is not None:        # before /static, which would take its paths too
            app.mount("/static/%s" % capability.name, StaticFiles(directory=capability.static),
                      name="static-%s" % capability.name)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app
