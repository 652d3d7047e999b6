"""What a capability package (fleet/care, later fleet/waste, fleet/facilities, fleet/ota) hands the
server: fleet/main.py lists the capabilities, includes their routers, serves their static files and
gives the rest to FleetRuntime. Everything else a capability does goes through the core's hooks,
registered when its modules are imported: event handlers (fleet.domain.ingest), downlink providers
(fleet.domain.downlink), status rules and listeners (fleet.domain.status), templates and links in
the page bar (fleet.web.pages). Its migrations are steps of fleet.schema.MIGRATIONS; its commands
join `fleet` in fleet/cli.py. docs/architecture.md#layout-core-and-capabilities.
"""

import dataclasses
from pathlib import Path
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class Capability:
    name: str                                  # also its static URL prefix: /static/<name>/
    routers: tuple = ()                        # FastAPI routers: its API and its pages
    static: Optional[Path] = None              # folder served at /static/<name>/
    service: Optional[Callable] = None         # service(runtime) -> object with async start() and stop():
                                               # its long-lived tasks, run in the app lifespan
    metrics: Optional[Callable] = None         # metrics(conn) -> Prometheus metric families, read at each scrape
