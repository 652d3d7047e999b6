"""Waste as the server sees it: WASTE, listed in fleet/main.py's CAPABILITIES.

Importing this module registers waste's hooks (readings.py): the handlers of `fill`, `emptied`,
`fire` (urgent: it raises an alarm through the core's alarm sink), `tilted`, `lid_open`,
`sensor_fault`, and the smart bin's status rule; through web/pages.py its templates and links.
"""

from prometheus_client.core import GaugeMetricFamily

from fleet.capability import Capability
from fleet.waste import readings  # noqa: F401  (registers its hooks when imported)
from fleet.waste.api import bins as bin_routes
from fleet.waste.api import plans as plan_routes
from fleet.waste.web import pages


def metrics(conn):
    """fleet_bins{status}: bins by their FIWARE status."""
    gauge = GaugeMetricFamily("fleet_bins", "smart bins by status", labels=("status",))
    for status, n in conn.execute("SELECT coalesce(s.status, 'unknown'), count(*) FROM bins b "
                                  "LEFT JOIN bin_state s ON s.bin_id = b.id GROUP BY 1"):
        gauge.add_metric((status,), n)
    yield gauge


WASTE = Capability(
    name="waste",
    routers=(bin_routes.router, plan_routes.router, pages.router),
    static=pages.STATIC,
    metrics=metrics,
)
