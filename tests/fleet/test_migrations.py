"""Schema migrations: from an empty database and from every earlier version, to the same schema,
keeping the data."""

import pytest

from fleet.errors import FleetError
from fleet import schema as fleet_schema      # the whole fleet's numbered migrations
from fleet.schema import open_db
from fleet.store import migrations
from fleet.store.db import connect


def schema(db):
    return sorted((r[0], r[1], r[2]) for r in db.conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"))


def columns(db, table):
    return [r[1] for r in db.conn.execute("PRAGMA table_info(%s)" % table)]


def seed_v1(db):
    db.conn.execute("INSERT INTO users (username, role, password_hash, created_at) VALUES ('ann', 'admin', 'h', 'x')")
    db.conn.execute("INSERT INTO devices (id, hw_id, role, secret_enc, config) VALUES "
                    "('cb-1', 'a4cf00000001', 'call_button', x'00', '{}')")
    db.conn.execute("INSERT INTO events (device_id, generation, stream, seq, type, t_device, at, received_at, data) "
                    "VALUES ('cb-1', 1, 1, 1, 'heartbeat', 0, 'x', 'x', '{}')")


@pytest.fixture
def fresh(tmp_path):
    db = open_db(tmp_path / "fresh.db")
    yield db
    db.close()


def test_empty_database_gets_the_latest_schema(fresh):
    assert migrations.version(fresh) == fleet_schema.LATEST
    assert {"users", "sessions", "api_tokens", "enrollment_tokens", "devices", "streams", "events", "commands",
            "audit", "seen_nonces"} <= set(fresh.table_names())
    assert {"alarms", "alarm_events", "escalation_policies", "residents", "device_residents", "webhooks",
            "webhook_deliveries", "webhook_attempts", "alarm_state"} <= set(fresh.table_names())


def test_alarm_migration_starts_the_battery_scan_after_existing_events(tmp_path):
    """m004 on a database with events: the battery scan starts after them (no scan of old history),
    the default escalation policy is installed, and one alarm per (device, ref) is enforced."""
    import sqlite3
    db = connect(tmp_path / "old.db")
    fleet_schema.apply(db, target=3)
    seed_v1(db)
    fleet_schema.apply(db)
    assert db.conn.execute("SELECT value FROM alarm_state WHERE name = 'battery_scan_event_id'").fetchone() == (1,)
    assert db.conn.execute("SELECT site FROM escalation_policies").fetchall() == [("*",)]
    insert = ("INSERT INTO alarms (device_id, ref, kind, category, state, received_at) "
              "VALUES ('cb-1', 'a-1', 'call', 'call', 'received', 'x')")
    db.conn.execute(insert)
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute(insert)
    db.close()


@pytest.mark.parametrize("start", range(1, fleet_schema.LATEST))
def test_upgrade_from_each_earlier_version(tmp_path, fresh, start):
    db = connect(tmp_path / "old.db")
    assert fleet_schema.apply(db, target=start) == start
    seed_v1(db)
    assert fleet_schema.apply(db) == fleet_schema.LATEST
    assert schema(db) == schema(fresh)
    assert db.conn.execute("SELECT username FROM users").fetchall() == [("ann",)]
    assert db.conn.execute("SELECT status FROM devices").fetchone()[0] == "never_seen"
    assert db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    db.close()


def test_reapplying_is_a_no_op(fresh):
    before = schema(fresh)
    assert fleet_schema.apply(fresh) == fleet_schema.LATEST
    assert schema(fresh) == before


def test_a_newer_database_is_refused(fresh):
    fresh.conn.execute("PRAGMA user_version=%d" % (fleet_schema.LATEST + 1))
    with pytest.raises(FleetError) as err:
        fleet_schema.apply(fresh)
    assert err.value.code == "schema_too_new"


def test_failed_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    db = connect(tmp_path / "half.db")
    fleet_schema.apply(db, target=1)

    def broken(database):
        database["devices"].add_column("half_done", str)
        raise RuntimeError("power cut")

    monkeypatch.setattr(fleet_schema, "MIGRATIONS", [fleet_schema.MIGRATIONS[0], broken] + fleet_schema.MIGRATIONS[2:])
    with pytest.raises(RuntimeError):
        fleet_schema.apply(db)
    assert migrations.version(db) == 1 and "half_done" not in columns(db, "devices")


def test_each_step_is_named_by_its_global_number():
    """The core's and the capabilities' steps share one numbering (fleet/schema.py): m004_* is the
    fourth entry wherever its module lives."""
    for number, entry in enumerate(fleet_schema.MIGRATIONS, start=1):
        for step in migrations.steps(entry):
            assert step.__name__.startswith("m%03d_" % number), (number, step.__module__, step.__name__)


def test_a_version_made_of_several_steps_is_applied_whole(tmp_path, monkeypatch):
    """Version 4 is care's tables and the core's webhook outbox: if one part fails, neither stays."""
    db = connect(tmp_path / "half.db")
    fleet_schema.apply(db, target=3)
    care_part, core_part = fleet_schema.MIGRATIONS[3]

    def broken(database):
        core_part(database)
        raise RuntimeError("power cut")

    monkeypatch.setattr(fleet_schema, "MIGRATIONS", fleet_schema.MIGRATIONS[:3] + [(care_part, broken)])
    with pytest.raises(RuntimeError):
        fleet_schema.apply(db)
    assert migrations.version(db) == 3
    assert not {"alarms", "residents", "webhooks"} & set(db.table_names())
    monkeypatch.undo()
    assert fleet_schema.apply(db) == fleet_schema.LATEST
    db.close()


def test_database_uses_wal_and_full_sync(fresh):
    assert fresh.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert fresh.conn.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL


def test_alarm_resident_migration_copies_the_resident_of_each_alarm(tmp_path):
    """m006: an alarm that had a resident gets a copy of them; one raised without keeps none."""
    import json
    db = connect(tmp_path / "old.db")
    fleet_schema.apply(db, target=5)
    seed_v1(db)
    db.conn.execute("INSERT INTO residents (id, name, room, contacts, created_at, updated_at) VALUES "
                    "(7, 'Li Na', '12', '[{\"name\": \"Li Wei\", \"phone\": \"1\", \"relation\": \"son\"}]', 'x', 'x')")
    db.conn.execute("INSERT INTO device_residents (device_id, resident_id, assigned_at) VALUES ('cb-1', 7, 'x')")
    for ref, resident in (("with", 7), ("without", None)):
        db.conn.execute("INSERT INTO alarms (device_id, ref, kind, category, state, received_at, resident_id) "
                        "VALUES ('cb-1', ?, 'call', 'call', 'resolved', 'x', ?)", (ref, resident))
    fleet_schema.apply(db)
    copies = dict(db.conn.execute("SELECT ref, resident FROM alarms").fetchall())
    assert copies["without"] is None
    assert json.loads(copies["with"]) == {"id": 7, "name": "Li Na", "address": None, "room": "12", "notes": None,
                                          "contacts": [{"name": "Li Wei", "phone": "1", "relation": "son"}]}
    db.close()


def test_device_tags_migration_keeps_devices_and_tags_them_by_id(tmp_path):
    """m011: devices existing before it have no tags; a tag belongs to one device (its id), once."""
    import sqlite3
    db = connect(tmp_path / "old.db")
    fleet_schema.apply(db, target=10)
    seed_v1(db)
    assert "device_tags" not in db.table_names()
    fleet_schema.apply(db)
    assert db.conn.execute("SELECT count(*) FROM device_tags").fetchone()[0] == 0
    insert = "INSERT INTO device_tags (device_id, tag) VALUES (?, 'pilot')"
    db.conn.execute(insert, ("cb-1",))
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute(insert, ("cb-1",))              # once per device
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute(insert, ("cb-nope",))           # only an enrolled device
    db.close()
