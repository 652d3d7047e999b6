"""Prometheus metrics of one fleet process, served at GET /metrics (fleet.api.metrics: who may read).

Counted as things happen:
  fleet_http_requests_total{route, method, status}    every answer; route is the route's template
                                                      (`/api/v1/alarms/{alarm_id}`), `unmatched` for none
  fleet_http_request_duration_seconds{route}          time to the end of the answer
  fleet_writer_commit_latency_seconds                 a write job's wait from submit to durable commit
                                                      (queue + transaction + fsync: what a device's ack waits for)
  fleet_webhook_attempts_failed_total                 webhook delivery attempts that failed (this process)
Read at each scrape:
  fleet_writer_commits_total, fleet_writer_jobs_total the group-commit writer's own counters
  fleet_devices{status}                               devices by status (`offline`: gone silent)
  fleet_webhook_deliveries{state}                     deliveries `pending` and given up (`failed`)
  each capability's gauges (Capability.metrics), e.g. care's
  fleet_open_alarms{kind, state}                      alarms received or acknowledged, not yet closed
  fleet_http_connections, fleet_http_connections_closed_total{reason}   (fleet.connections)
  process_*                                           open file descriptors and their limit, memory, CPU
"""

import time

from prometheus_client import (CollectorRegistry, Counter, Histogram, ProcessCollector, disable_created_metrics,
                               generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

disable_created_metrics()       # no `_created` series next to every counter: half the output, no use here

# Process-wide: the webhook worker has no handle on a runtime; each app's registry includes it.
WEBHOOK_FAILED_ATTEMPTS = Counter("fleet_webhook_attempts_failed", "webhook delivery attempts that failed",
                                  registry=None)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class FleetMetrics:
    def __init__(self, runtime):
        self.registry = CollectorRegistry()
        self.requests = Counter("fleet_http_requests", "HTTP answers by route, method and status",
                                ("route", "method", "status"), registry=self.registry)
        self.request_seconds = Histogram("fleet_http_request_duration_seconds", "time to the end of the answer",
                                         ("route",), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.commit_seconds = Histogram("fleet_writer_commit_latency_seconds",
                                        "a write job's wait from submit to its durable commit",
                                        buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(WEBHOOK_FAILED_ATTEMPTS)
        self.registry.register(_StateCollector(runtime))
        ProcessCollector(registry=self.registry)
        self._children = {}

    def count_request(self, route, method, status, seconds):
        children = self._children.get((route, method, status))
        if children is None:       # .labels() costs more than the rest of the bookkeeping
            children = self._children[(route, method, status)] = (
                self.requests.labels(route, method, str(status)), self.request_seconds.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def time_commits(self, writer):
        """Observe each job's submit-to-commit time, through the writer's public submit()."""
        submit = writer.submit
        histogram = self.commit_seconds

        def timed_submit(job):
            future = submit(job)
            started = time.perf_counter()
            future.add_done_callback(lambda _: histogram.observe(time.perf_counter() - started))
            return future

        writer.submit = timed_submit

    def exposition(self):
        return generate_latest(self.registry)


class _StateCollector:
    """What the database and the running parts say at scrape time."""

    def __init__(self, runtime):
        self.runtime = runtime

    def describe(self):
        return []            # collected only when scraped, never at registration

    def collect(self):
        rt = self.runtime
        if rt.writer is not None:
            yield CounterMetricFamily("fleet_writer_commits", "group commits by the ingest writer",
                                      value=rt.writer.commits)
            yield CounterMetricFamily("fleet_writer_jobs", "write jobs committed", value=rt.writer.jobs)
        guard = rt.connections
        if guard is not None:
            yield GaugeMetricFamily("fleet_http_connections", "HTTP connections open", value=len(guard.open))
            closed = CounterMetricFamily("fleet_http_connections_closed", "connections closed or refused by the "
                                         "server's limits", labels=("reason",))
            for reason in ("header_timeout", "body_timeout", "shed", "refused"):
                closed.add_metric((reason,), guard.closed[reason])
            yield closed
        db = rt.connect()
        try:
            conn = db.conn
            devices = GaugeMetricFamily("fleet_devices", "devices by status", labels=("status",))
            counts = dict(conn.execute("SELECT status, count(*) FROM devices GROUP BY status").fetchall())
            for status in ("never_seen", "online", "offline", "revoked"):
                devices.add_metric((status,), counts.get(status, 0))
            yield devices
            deliveries = GaugeMetricFamily("fleet_webhook_deliveries", "webhook deliveries waiting or given up",
                                           labels=("state",))
            counts = dict(conn.execute("SELECT state, count(*) FROM webhook_deliveries WHERE state IN "
                                       "('pending', 'failed') GROUP BY state").fetchall())
            for state in ("pending", "failed"):
                deliveries.add_metric((state,), counts.get(state, 0))
            yield deliveries
            for capability in rt.capabilities:
                if capability.metrics is not None:
                    yield from capability.metrics(conn)
        finally:
            db.close()


class RequestMetrics:
    """Pure ASGI middleware (outermost): count every HTTP answer by route template and status."""

    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or scope.get("fleet.route") or "unmatched"
            self.metrics.count_request(template, scope["method"], status[0], time.perf_counter() - started)
