"""Settings of one fleet manager process.

Every setting has a default, can be set from the environment as FLEET_<NAME>
(upper case) and most from the `fleet serve` command line. docs/operations.md
lists them all (a test checks that it does).
"""

import dataclasses
import os
from pathlib import Path

from fleet.errors import Invalid

ENV_PREFIX = "FLEET_"


@dataclasses.dataclass
class Settings:
    # SQLite database file; its folder is the data dir (key file, demo files).
    db: Path = Path("var/fleet.db")
    host: str = "127.0.0.1"
    port: int = 8000
    # Key that encrypts device secrets at rest; created on first start if missing.
    # Empty means "fleet.key next to the database".
    key_file: str = ""
    # Mark the session cookie Secure (set when the fleet is served over HTTPS).
    secure_cookies: bool = False
    # How long a web login lasts.
    session_hours: float = 12.0
    # Extra time after a call button's heartbeat interval before it counts as offline.
    heartbeat_grace_s: int = 600
    # Smart bins and beacons count as offline after this many report intervals...
    report_intervals_offline: float = 2.0
    # ...plus this grace.
    report_grace_s: int = 300
    # How often the status supervisor looks for devices that went silent.
    status_interval_s: float = 5.0
    # Most (device, nonce) pairs remembered for replay protection (about 150 bytes each).
    nonce_cache_size: int = 1_000_000
    # How often the server reads the device change log (fleet.domain.changes): a change made by
    # another process (the CLI revoking a device) applies within this.
    change_poll_s: float = 0.2
    # The longest a cached device identity or composed downlink is trusted without being re-read:
    # a backstop only (the change log invalidates entries when their rows change).
    identity_ttl_s: float = 600.0
    # Per-device request budget (signed device requests): this many at once...
    device_burst: int = 60
    # ...then this many per second sustained; 0 turns the limit off.
    device_rate_per_s: float = 5.0
    # Login throttling (fleet.domain.throttle): wrong passwords for one account from one address
    # before each further one locks that pair for 1, 2, 4 ... seconds...
    login_free_failures: int = 5
    # ...wrong passwords from one address, all accounts together, before the address is locked so...
    login_free_failures_per_address: int = 20
    # ...and addresses failing on one account within an hour before the account slows down for
    # every address it has not logged in from (at most 60 s a try).
    login_account_spread: int = 10
    # Refused enrollments from one address before the address is locked the same way.
    enroll_free_refusals: int = 10
    # Longest lock of a throttled login or enrollment.
    lockout_max_s: float = 900.0
    # Refused enrollments and throttled logins are audited as one row per address per this period.
    audit_summary_s: float = 60.0
    # Most requests the ingest writer commits in one transaction.
    commit_max_batch: int = 512
    # Alarms (call buttons): a heartbeat battery voltage under this raises a low-battery alarm...
    low_battery_v: float = 2.7
    # ...which clears itself when a heartbeat reports at least this much more than the low reading.
    battery_recover_v: float = 0.2
    # How often heartbeats are scanned for battery voltages (off the ingest path).
    battery_scan_s: float = 30.0
    # Outgoing webhooks: time allowed for one delivery attempt...
    webhook_timeout_s: float = 5.0
    # ...attempts before a delivery is given up (marked failed)...
    webhook_max_attempts: int = 10
    # ...first retry delay, doubled after every failed attempt, never more than webhook_backoff_max_s.
    webhook_backoff_s: float = 5.0
    webhook_backoff_max_s: float = 3600.0
    # Smart bins' collection planning (fleet.waste.planning): the depot trucks start and end at...
    waste_depot_lat: float = 31.2304
    waste_depot_lon: float = 121.4737
    # ...how many trucks, each taking this many litres...
    waste_trucks: int = 2
    waste_truck_l: int = 10000
    # ...a shift of this many hours starting at this hour (UTC)...
    waste_shift_h: float = 8.0
    waste_shift_hour: int = 0
    # ...driving at this average speed, stopping this long at each bin...
    waste_speed_kmh: float = 25.0
    waste_service_s: int = 90
    # ...and the solver stops after this long with the best plan found so far.
    waste_plan_time_s: float = 5.0
    # Maps (the bins map, the crew's route): an XYZ tile server drawn under the bins, as a URL
    # template https://host/{z}/{x}/{y}.png (its origin is then allowed for images); empty: no
    # tiles, the map is drawn from the coordinates alone and works without internet...
    map_tile_url: str = ""
    # ...and the credit its tiles require, shown on the map (e.g. "© OpenStreetMap contributors").
    map_tile_attribution: str = ""
    # Facilities: the public base URL of the asset pages (QR labels, beacons: <public_url>/a/<code>);
    # empty: the address the page was asked at...
    public_url: str = ""
    # ...citizen reports one address may send at once before `rate_limited` (429)...
    report_burst: int = 5
    # ...and per hour after that (an Open311 app's key gets ten times both).
    report_per_hour: float = 10.0
    # Pages: the language for a browser that asks for none of ours (zh_CN or en)...
    default_language: str = "zh_CN"
    # ...and the time zone dates and times are shown in (a tz database name).
    time_zone: str = "Asia/Shanghai"
    # Connections (fleet.connections): a request's headers must arrive within this many seconds...
    header_timeout_s: float = 10.0
    # ...and its body within this after the headers; a slower client is disconnected.
    body_timeout_s: float = 20.0
    # A kept-alive connection with no new request is closed after this.
    keepalive_timeout_s: float = 15.0
    # Most connections open at once: past it the oldest idle one is closed, or the newcomer gets
    # 503 `busy`. 0: half the open-files limit, at most 4096.
    max_connections: int = 0
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (comma-separated addresses, or *).
    forwarded_allow_ips: str = "127.0.0.1"
    # Bearer token Prometheus sends to read /metrics (at least 16 characters); empty: admins only.
    metrics_token: str = ""
    log_level: str = "info"
    # `text`, or `json`: one JSON object per line, for log collectors.
    log_format: str = "text"
    # One log line per HTTP request (costly at device rates; off by default).
    access_log: bool = False
    # Serve HTTPS with this certificate chain and private key (PEM files); both empty: plain HTTP
    # (behind a TLS-terminating reverse proxy, or on loopback).
    tls_cert: str = ""
    tls_key: str = ""
    # OTA (docs/ota.md): the folder of release artifacts; empty: "releases" next to the database.
    ota_dir: str = ""
    # Downloads from a static mirror instead of the fleet: its base URL (artifacts at <url>/<file>)...
    ota_mirror_url: str = ""
    # ...and the secret it checks the short-lived signed URLs with (empty: derived from the key file).
    ota_url_secret: str = ""
    # How long a download URL in an update offer stays valid.
    ota_url_ttl_s: int = 3600
    # How often the rollout engine moves rollouts on (offers, timeouts, phases).
    ota_tick_s: float = 5.0
    # Most downloads the fleet serves at once; past it 503 `busy` with Retry-After (a device that
    # is turned away is waiting, never failing).
    ota_max_downloads: int = 2000
    # ...and serves them at most this fast in all (bytes/s; 0: no limit), so 1,000 boards fetching
    # at once never take the CPU ingest and the alarm console need.
    ota_download_bytes_per_s: int = 1_500_000

    @property
    def data_dir(self):
        return Path(self.db).resolve().parent

    @property
    def key_path(self):
        return Path(self.key_file) if self.key_file else self.data_dir / "fleet.key"

    @property
    def ota_path(self):
        return Path(self.ota_dir) if self.ota_dir else self.data_dir / "releases"

    @classmethod
    def from_env(cls, environ=None, **overrides):
        """Defaults, then FLEET_* variables, then explicit overrides (None means 'not given')."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _parse(field, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.db = Path(settings.db)
        return settings

    @classmethod
    def env_names(cls):
        return [ENV_PREFIX + f.name.upper() for f in dataclasses.fields(cls)]


def _parse(field, raw):
    kind = type(field.default)
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if issubclass(kind, Path):
            return Path(raw)
        return raw
    except ValueError:
        raise Invalid("%s%s=%r is not a valid %s" % (ENV_PREFIX, field.name.upper(), raw, kind.__name__))
