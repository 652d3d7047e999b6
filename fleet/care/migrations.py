"""The care tables: alarms and their history, escalation policies, residents and their buttons.

These are steps of the fleet's one numbered history: fleet.schema.MIGRATIONS puts them in order
with the core's (m004 shares its version with the core's webhook outbox, m004_webhooks). Never
edit a released step: add the next number there.
"""


def m004_alarms(db):
    """Alarms of call buttons and supervision, their history, escalation, residents (version 4, with
    the core's webhook outbox: fleet.store.migrations.m004_webhooks)."""
    # Residents are personal data: only caregivers and admins read them (fleet.care.residents).
    db["residents"].create({
        "id": int, "name": str, "address": str, "room": str, "contacts": str, "notes": str,
        "created_at": str, "updated_at": str,
    }, pk="id", not_null={"name"})
    db["device_residents"].create({"device_id": str, "resident_id": int, "assigned_at": str, "assigned_by": str},
                                  pk="device_id", foreign_keys=[("device_id", "devices", "id"),
                                                                ("resident_id", "residents", "id")])
    db["device_residents"].create_index(["resident_id"])

    # One alarm per (device, ref) for alarms a device raised; ref is NULL for supervision alarms
    # (device_missing, battery_low) that the fleet raises itself.
    db["alarms"].create({
        "id": int, "device_id": str, "ref": str, "kind": str, "category": str, "state": str, "site": str,
        "resident_id": int, "event_id": int, "raised_at": str, "received_at": str,
        "acknowledged_at": str, "acknowledged_by": str, "resolved_at": str, "resolved_by": str,
        "resolution_note": str, "cancelled_at": str, "cancel_requested_at": str,
        "battery_v": float, "days_left": int, "stage": int, "groups": str, "next_escalation_at": str,
        "updated_at": str,
    }, pk="id", not_null={"device_id", "kind", "category", "state", "received_at"}, defaults={"stage": 0},
        foreign_keys=[("device_id", "devices", "id")])
    db["alarms"].create_index(["device_id", "ref"], unique=True)
    db["alarms"].create_index(["device_id", "kind", "state"])
    db["alarms"].create_index(["state", "received_at"])
    db["alarms"].create_index(["updated_at"])
    db.conn.execute("CREATE INDEX idx_alarms_escalation ON alarms (next_escalation_at) "
                    "WHERE next_escalation_at IS NOT NULL")
    db["alarm_events"].create({"id": int, "alarm_id": int, "at": str, "actor": str, "action": str, "detail": str},
                              pk="id", foreign_keys=[("alarm_id", "alarms", "id")])
    db["alarm_events"].create_index(["alarm_id", "id"])

    # stages: JSON [{"after_s", "group"}]; site "*" is the default of sites without their own.
    db["escalation_policies"].create({"site": str, "stages": str, "updated_at": str, "updated_by": str}, pk="site")
    db.conn.execute("INSERT INTO escalation_policies (site, stages, updated_at, updated_by) VALUES "
                    "('*', '[{\"after_s\": 60, \"group\": \"backup\"}, {\"after_s\": 300, \"group\": \"supervisors\"}]', "
                    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'migration')")

    # Small named counters of the alarm work, e.g. the last heartbeat event scanned for battery levels.
    db["alarm_state"].create({"name": str, "value": int}, pk="name")
    db.conn.execute("INSERT INTO alarm_state (name, value) SELECT 'battery_scan_event_id', coalesce(max(id), 0) "
                    "FROM events")


def m006_alarm_resident(db):
    """Each alarm keeps a copy of its resident as they were when it was raised (JSON, the API's
    shape), so a later assignment or edit does not rewrite a past alarm. Existing alarms get their
    resident as now (the best record there is); alarms raised with no resident keep none."""
    db["alarms"].add_column("resident", str)
    db.conn.execute(
        "UPDATE alarms SET resident = (SELECT json_object('id', r.id, 'name', r.name, 'address', r.address, "
        "'room', r.room, 'contacts', json(coalesce(r.contacts, '[]')), 'notes', r.notes) "
        "FROM residents r WHERE r.id = alarms.resident_id) WHERE resident_id IS NOT NULL")
