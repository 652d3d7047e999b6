"""Care as the server sees it: CARE, listed in fleet/main.py's CAPABILITIES.

Importing this module registers care's hooks (alarms.py and supervision.py register them when
imported): the `alarm`, `alarm_cancel` and `battery_low` event handlers, the `alarms` downlink
provider, the status listener that raises `device_missing`; and, through web/pages.py, its templates
and its links in the page bar.
"""

from prometheus_client.core import GaugeMetricFamily

from fleet.capability import Capability
from fleet.care import alarms, supervision  # noqa: F401  (supervision: registered when imported)
from fleet.care.api import alarms as alarm_routes
from fleet.care.api import escalation as escalation_routes
from fleet.care.api import residents as resident_routes
from fleet.care.web import pages


def metrics(conn):
    """fleet_open_alarms{kind, state}: alarms received or acknowledged, not yet closed."""
    gauge = GaugeMetricFamily("fleet_open_alarms", "alarms not yet resolved or cancelled", labels=("kind", "state"))
    for kind, state, n in conn.execute(
            "SELECT kind, state, count(*) FROM alarms WHERE state IN (?, ?) GROUP BY kind, state", alarms.OPEN_STATES):
        gauge.add_metric((kind, state), n)
    yield gauge


CARE = Capability(
    name="care",
    routers=(alarm_routes.router, resident_routes.router, escalation_routes.router, pages.router),
    static=pages.STATIC,
    service=alarms.AlarmService,
    metrics=metrics,
)
