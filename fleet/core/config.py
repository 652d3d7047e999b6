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
    # How long a cached device identity (secret, revoked flag) is trusted before it is re-read,
    # so that a revoke done by the CLI in another process takes effect in a running server.
    identity_ttl_s: float = 5.0
    # Per-device request budget (signed device requests): this many at once...
    device_burst: int = 60
    # ...then this many per second sustained; 0 turns the limit off.
    device_rate_per_s: float = 5.0
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
    log_level: str = "info"
    # One log line per HTTP request (costly at device rates; off by default).
    access_log: bool = False
    # Serve HTTPS with this certificate chain and private key (PEM files); both empty: plain HTTP
    # (behind a TLS-terminating reverse proxy, or on loopback).
    tls_cert: str = ""
    tls_key: str = ""

    @property
    def data_dir(self):
        return Path(self.db).resolve().parent

    @property
    def key_path(self):
        return Path(self.key_file) if self.key_file else self.data_dir / "fleet.key"

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
