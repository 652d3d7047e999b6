"""Facilities as the server sees it: FACILITIES, listed in fleet/main.py's CAPABILITIES.

Importing this module registers its hooks (handlers.py: the beacon's fault events; web/pages.py:
templates and links in the page bar).
"""

from prometheus_client.core import GaugeMetricFamily

from fleet.capability import Capability
from fleet.facilities import beacons, handlers, workorders  # noqa: F401  (registered when imported)
from fleet.facilities.api import assets as asset_routes
from fleet.facilities.api import open311 as open311_routes
from fleet.facilities.api import photos as photo_routes
from fleet.facilities.api import workorders as workorder_routes
from fleet.facilities.web import pages


def metrics(conn):
    """fleet_open_work_orders{state, overdue}."""
    gauge = GaugeMetricFamily("fleet_open_work_orders", "work orders not yet resolved or rejected",
                              labels=("state", "overdue"))
    from fleet.core import clock
    for state, overdue, n in conn.execute(
            "SELECT state, due_at < ?, count(*) FROM work_orders WHERE state IN ('new', 'assigned', 'in_progress') "
            "GROUP BY 1, 2", (clock.iso(),)):
        gauge.add_metric((state, "yes" if overdue else "no"), n)
    yield gauge


FACILITIES = Capability(
    name="facilities",
    routers=(asset_routes.router, photo_routes.router, open311_routes.router, workorder_routes.router, pages.router),
    static=pages.STATIC,
    service=workorders.SlaTimer,
    metrics=metrics,
)
