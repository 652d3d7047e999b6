"""Numbered schema migrations, applied in order at start: the machinery, and the core's own steps.

The database's PRAGMA user_version is the number of the last migration applied. Numbers are global
across the core and the capabilities: the one list that puts every step in order is
fleet.schema.MIGRATIONS (the top of the fleet assembles it, so this module never imports a
capability). Each migration runs in its own transaction together with the version bump, so a crash
leaves the schema at a whole version. Never edit a released migration: add the next one.
tests/fleet/test_migrations.py upgrades from empty and from every earlier version.

All time columns hold UTC ISO-8601 strings (fleet.core.clock.iso).
"""

from fleet.errors import FleetError


def m001_initial(db):
    """People, devices, their events and the audit log."""
    db["users"].create({
        "id": int, "username": str, "role": str, "password_hash": str,
        "created_at": str, "disabled": int,
    }, pk="id", not_null={"username", "role", "password_hash"}, defaults={"disabled": 0})
    db["users"].create_index(["username"], unique=True)

    # Sessions and tokens store only a SHA-256 of the secret value.
    db["sessions"].create({"id_hash": str, "user_id": int, "created_at": str, "expires_at": str},
                          pk="id_hash", foreign_keys=[("user_id", "users", "id")])
    db["api_tokens"].create({
        "id": int, "user_id": int, "name": str, "token_hash": str, "prefix": str,
        "created_at": str, "last_used_at": str, "revoked_at": str,
    }, pk="id", foreign_keys=[("user_id", "users", "id")])
    db["api_tokens"].create_index(["token_hash"], unique=True)

    db["enrollment_tokens"].create({
        "id": int, "token_hash": str, "prefix": str, "role": str, "board": str, "site": str,
        "created_by": str, "created_at": str, "expires_at": str,
        "used_at": str, "device_id": str, "revoked_at": str,
    }, pk="id")
    db["enrollment_tokens"].create_index(["token_hash"], unique=True)

    # generation: raised by every re-enrollment, so a re-flashed board's new event stream
    # never collides with what the same hardware sent before.
    # cursor: raised whenever anything in the device's downlink changes (long-poll key).
    db["devices"].create({
        "id": str, "hw_id": str, "role": str, "board": str, "site": str,
        "secret_enc": bytes, "generation": int, "enrolled_at": str, "revoked_at": str,
        "config": str, "config_version": int, "cursor": int,
        "last_seen": str, "last_hello": str,
        "fw": str, "app": str, "slot": str, "reset_cause": str, "wake_reason": str,
        "heap_free": int, "rssi": int, "reported_cv": int, "hello_errors": str,
    }, pk="id", not_null={"hw_id", "role", "secret_enc"},
        defaults={"generation": 1, "config_version": 1, "cursor": 1})
    db["devices"].create_index(["hw_id"], unique=True)

    # One row per (device, generation, stream): what is acked and the highest seq stored.
    db["streams"].create({"device_id": str, "generation": int, "stream": int,
                          "ack": int, "max_seq": int},
                         pk=("device_id", "generation", "stream"))
    db["events"].create({
        "id": int, "device_id": str, "generation": int, "stream": int, "seq": int,
        "type": str, "t_device": int, "at": str, "received_at": str, "data": str,
    }, pk="id")
    db["events"].create_index(["device_id", "generation", "stream", "seq"], unique=True)

    db["commands"].create({
        "id": int, "device_id": str, "name": str, "args": str, "status": str, "detail": str,
        "created_at": str, "created_by": str, "done_at": str,
    }, pk="id", foreign_keys=[("device_id", "devices", "id")])
    db["commands"].create_index(["device_id", "status"])

    db["audit"].create({
        "id": int, "at": str, "actor": str, "action": str, "target": str, "detail": str, "ip": str,
    }, pk="id")


def m002_device_status(db):
    """Persisted liveness, so status transitions during downtime are announced after a restart."""
    db["devices"].add_column("status", str, not_null_default="never_seen")
    db["devices"].add_column("status_changed_at", str)
    db["events"].create_index(["type", "id"])
    db["audit"].create_index(["at"])


def m003_seen_nonces(db):
    """Replay-protection nonces saved at shutdown and reloaded at start."""
    db["seen_nonces"].create({"device_id": str, "nonce": str, "expires": float},
                             pk=("device_id", "nonce"))


def m004_webhooks(db):
    """The webhook outbox (configuration, deliveries, attempts). Version 4 of the schema: it came
    with the alarms (fleet.care.migrations.m004_alarms) and runs in the same transaction."""
    db["webhooks"].create({
        "id": int, "name": str, "url": str, "secret_enc": bytes, "events": str, "groups": str,
        "include_resident": int, "enabled": int, "created_at": str, "created_by": str, "updated_at": str,
    }, pk="id", not_null={"url", "secret_enc"}, defaults={"include_resident": 0, "enabled": 1})
    db["webhook_deliveries"].create({
        "id": int, "webhook_id": int, "alarm_id": int, "event": str, "body": str, "state": str,
        "attempts": int, "next_attempt_at": str, "last_status": int, "last_error": str,
        "created_at": str, "delivered_at": str,
    }, pk="id", not_null={"webhook_id", "event", "body", "state"}, defaults={"attempts": 0},
        foreign_keys=[("webhook_id", "webhooks", "id")])
    db["webhook_deliveries"].create_index(["state", "next_attempt_at"])
    db["webhook_deliveries"].create_index(["webhook_id", "id"])
    db["webhook_attempts"].create({
        "id": int, "delivery_id": int, "at": str, "status_code": int, "error": str, "duration_ms": int,
    }, pk="id", foreign_keys=[("delivery_id", "webhook_deliveries", "id")])
    db["webhook_attempts"].create_index(["delivery_id"])


def m005_server_runs(db):
    """Each start of the server, and whether it stopped cleanly (saving its replay nonces)."""
    db["server_runs"].create({"id": int, "started_at": float, "stopped_at": float}, pk="id")


def m011_device_tags(db):
    """Device tags (fleet.domain.tags): free labels people give devices (`floor-3`, `pilot`), used
    to find devices and to target rollouts. One row per (device, tag); the index finds a tag's
    devices."""
    db["device_tags"].create({"device_id": str, "tag": str}, pk=("device_id", "tag"), not_null={"tag"},
                             foreign_keys=[("device_id", "devices", "id")])
    db["device_tags"].create_index(["tag", "device_id"])


# The devices columns a running server keeps in memory: identities (fleet.domain.identity), the
# status board (fleet.domain.status) and composed downlinks (fleet.domain.downlink). `cursor`
# alone rises with every alarm and command (only the downlink depends on it): its own kind.
DEVICE_COLUMNS_CACHED = ("hw_id", "role", "board", "site", "generation", "revoked_at", "secret_enc",
                         "config_version", "config")


def m012_device_changes(db):
    """The device change log (fleet.domain.changes): triggers append the id of every device whose
    cached columns change, or which is deleted, by any process (the CLI revoking a device), so that
    the running server drops what it cached and wakes the device's long-poll within a fraction of a
    second. kind: 'down' (only the cursor rose) or 'device' (anything else)."""
    db.conn.execute("CREATE TABLE device_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                    "device_id TEXT NOT NULL, kind TEXT NOT NULL)")     # AUTOINCREMENT: never reused after a prune
    db.conn.execute("CREATE TRIGGER devices_cursor_rose AFTER UPDATE OF cursor ON devices BEGIN "
                    "INSERT INTO device_changes (device_id, kind) VALUES (NEW.id, 'down'); END")
    db.conn.execute("CREATE TRIGGER devices_changed AFTER UPDATE OF %s ON devices BEGIN "
                    "INSERT INTO device_changes (device_id, kind) VALUES (NEW.id, 'device'); END"
                    % ", ".join(DEVICE_COLUMNS_CACHED))
    db.conn.execute("CREATE TRIGGER devices_deleted AFTER DELETE ON devices BEGIN "
                    "INSERT INTO device_changes (device_id, kind) VALUES (OLD.id, 'device'); END")


def version(db):
    return db.conn.execute("PRAGMA user_version").fetchone()[0]


def steps(entry):
    """The functions of one numbered migration: one function, or a tuple of them (one version made of
    the core's and a capability's parts) run in the same transaction."""
    return entry if isinstance(entry, tuple) else (entry,)


def apply(db, migrations, target=None):
    """Run the migrations after the database's version up to target (default: all of them);
    return the new version. migrations[n - 1] is migration n (fleet.schema.MIGRATIONS)."""
    latest = len(migrations)
    target = latest if target is None else target
    current = version(db)
    if current > latest:
        raise FleetError("database schema v%d is newer than this fleet (v%d): upgrade the fleet"
                         % (current, latest), code="schema_too_new")
    for number in range(current + 1, target + 1):
        with db.atomic():
            for step in steps(migrations[number - 1]):
                step(db)
            db.conn.execute("PRAGMA user_version=%d" % number)
    return version(db)
