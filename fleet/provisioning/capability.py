"""Provisioning as the server sees it: PROVISIONING, listed in fleet/main.py's CAPABILITIES.

Why a capability and not the core: only the technician's tool writes runs and only technicians
(and admins) read them; no device request, no other capability needs them. It reads the core's
devices and enrollment tokens to say which boards still wait for their first hello, and the
core knows nothing of it (docs/architecture.md#layout-core-and-capabilities).
"""

from prometheus_client.core import GaugeMetricFamily

from fleet.capability import Capability
from fleet.provisioning.api import runs as run_routes
from fleet.provisioning.web import pages


def metrics(conn):
    """fleet_provisioning_runs{result}: runs reported by the technicians' tool, by result."""
    gauge = GaugeMetricFamily("fleet_provisioning_runs", "provisioning runs reported, by result", labels=("result",))
    ok, failed = conn.execute("SELECT coalesce(sum(ok), 0), coalesce(sum(1 - ok), 0) FROM provisioning_runs").fetchone()
    gauge.add_metric(("ok",), ok)
    gauge.add_metric(("failed",), failed)
    yield gauge


PROVISIONING = Capability(
    name="provisioning",
    routers=(run_routes.router, pages.router),
    static=pages.STATIC,
    metrics=metrics,
)
