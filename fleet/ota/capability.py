"""OTA as the server sees it: OTA, listed in fleet/main.py's CAPABILITIES.

Importing this module registers OTA's hooks (progress.py registers them when imported): the
`update` downlink provider (the offer) and the `ota` event handler; through web/pages.py its
templates and its link in the page bar. It asks other capabilities whether a device may update
through the core's update guards (fleet.domain.guards), never by import.
"""

from prometheus_client.core import GaugeMetricFamily

from fleet.capability import Capability
from fleet.ota import progress  # noqa: F401  (registers the offer provider and the event handler)
from fleet.ota.api import admin, downloads
from fleet.ota.service import OtaService
from fleet.ota.web import pages


def metrics(conn):
    """fleet_ota_rollout_devices{state}: devices of unfinished rollouts by where they stand."""
    gauge = GaugeMetricFamily("fleet_ota_rollout_devices", "devices in running, waiting or paused rollouts by state",
                              labels=("state",))
    for state, n in conn.execute(
            "SELECT rd.state, count(*) FROM ota_rollout_devices rd JOIN ota_rollouts r ON r.id = rd.rollout_id "
            "WHERE r.state IN ('running', 'waiting', 'paused') GROUP BY rd.state"):
        gauge.add_metric((state,), n)
    yield gauge


OTA = Capability(
    name="ota",
    routers=(admin.router, downloads.router, pages.router),
    static=pages.STATIC,
    service=OtaService,
    metrics=metrics,
)
