"""GET /metrics of a real server: never public (metrics token or admin), and what it says agrees
with what happened - requests by route and status, commit latency, open alarms, offline devices,
webhook failures, connections, file descriptors."""

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleet.core.config import Settings
from fleetkit import bearer, enroll, heartbeat, wait_for

TOKEN = "prom-" + "k3Y9" * 6


@pytest.fixture
def settings(tmp_path):
    # A smart bin goes offline after 1 s of silence; failed webhooks retry quickly.
    return Settings(db=tmp_path / "fleet.db", status_interval_s=0.05, metrics_token=TOKEN,
                    report_intervals_offline=0, report_grace_s=1, webhook_backoff_s=0.2, webhook_timeout_s=2)


def scrape(http, headers=None):
    response = http.get("/metrics", headers=headers or {"Authorization": "Bearer " + TOKEN})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_never_public(live_server, db):
    with httpx.Client(base_url=live_server, timeout=10) as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"}).status_code == 401
        for role in ("caregiver", "technician"):
            refused = http.get("/metrics", headers=bearer(db, role))
            assert refused.status_code == 403 and "metrics.read" in refused.json()["error"]["message"]
        assert scrape(http, bearer(db, "admin"))                 # an admin's API token
        assert scrape(http)                                      # Prometheus, with the metrics token


def test_metrics_follow_what_the_fleet_does(live_server, db):
    admin = bearer(db, "admin")
    with httpx.Client(base_url=live_server, timeout=10) as http:
        before = scrape(http)
        button = enroll(http, db)
        bin_ = enroll(http, db, role="smart_bin")
        for seq in (1, 2, 3):
            assert button.events([heartbeat(seq)]).status_code == 200
        alarm = {"seq": 4, "t": int(time.time()), "type": "alarm", "data": {"ref": "a-1", "kind": "call"}}
        assert button.events([alarm]).status_code == 200
        assert bin_.hello().status_code == 200                   # heard once, then silent: offline after 1 s
        [found] = http.get("/api/v1/alarms", headers=admin).json()
        assert http.get("/api/v1/alarms/%d" % found["id"], headers=admin).status_code == 200
        assert http.get("/api/v1/alarms/999999", headers=admin).status_code == 404
        hook = http.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/nobody"}, headers=admin).json()
        http.post("/api/v1/webhooks/%d/test" % hook["id"], headers=admin)

        after = wait_for(lambda: (lambda s: s if value(s, "fleet_devices", status="offline") == 1
                                  and value(s, "fleet_webhook_attempts_failed_total") >= 2 else None)(scrape(http)),
                         what="bin offline and webhook attempts failed")

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("fleet_http_requests_total", route="/api/v1/device/events", method="POST", status="200") == 4
    assert grew("fleet_http_requests_total", route="/api/v1/device/enroll", method="POST", status="201") == 2
    assert grew("fleet_http_requests_total", route="/api/v1/alarms/{alarm_id}", method="GET", status="200") == 1
    assert grew("fleet_http_requests_total", route="/api/v1/alarms/{alarm_id}", method="GET", status="404") == 1
    assert grew("fleet_http_request_duration_seconds_count", route="/api/v1/device/events") == 4
    assert value(after, "fleet_open_alarms", kind="call", state="received") == 1
    assert value(after, "fleet_devices", status="online") == 1
    # Every write job's wait for its durable commit is timed, and the writer's commits counted.
    assert grew("fleet_writer_commit_latency_seconds_count") >= 5
    assert 0 < value(after, "fleet_writer_commit_latency_seconds_sum") < 10
    assert grew("fleet_writer_commits_total") >= 1
    assert value(after, "fleet_webhook_deliveries", state="pending") == 1       # retrying
    assert value(after, "fleet_http_connections") >= 1
    assert value(after, "process_open_fds") > 0 and value(after, "process_max_fds") > 0
