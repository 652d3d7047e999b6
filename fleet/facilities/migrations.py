"""The facilities tables: assets and their photos, citizen reports (Open311 service requests),
app keys, work orders and their history, teams and who routes to them.

Steps of the fleet's one numbered history (fleet.schema.MIGRATIONS); version 8 is reserved for
facilities. Never edit a released step: add the next number there.
"""


def m008_facilities(db):
    """Assets, photos, Open311 requests and keys, work orders, teams and routing (version 8)."""
    # An asset: anything in the street with a public identity (a QR label, maybe a beacon).
    # code: its public code (devproto.assetcode); device_id: the board attached, if any.
    # fault/fault_since: the fault its device reports now (cover_open, lamp_fault, day_burning).
    # beacon: JSON of down.beacon settings this asset's beacon gets besides the defaults.
    db["assets"].create({
        "id": int, "code": str, "type": str, "name": str, "lat": float, "lon": float, "address": str,
        "area": str, "maintainer": str, "install_date": str, "device_id": str, "notes": str,
        "fault": str, "fault_since": str, "beacon": str, "created_at": str, "created_by": str, "updated_at": str,
    }, pk="id", not_null={"code", "type", "created_at", "updated_at"},
        foreign_keys=[("device_id", "devices", "id")])
    db["assets"].create_index(["code"], unique=True)
    db.conn.execute("CREATE UNIQUE INDEX idx_assets_device ON assets (device_id) WHERE device_id IS NOT NULL")
    db["assets"].create_index(["type", "area"])

    # Photos of assets, reports and resolutions: re-encoded JPEG, no metadata (fleet.facilities.photos).
    db["facility_photos"].create({
        "id": int, "owner": str, "owner_id": int, "image": bytes, "width": int, "height": int, "size": int,
        "created_at": str, "created_by": str,
    }, pk="id", not_null={"owner", "owner_id", "image", "created_at"})
    db["facility_photos"].create_index(["owner", "owner_id"])

    # Teams of technicians, and which team an asset's work goes to by its type and area ('*': any).
    db["facility_teams"].create({"name": str, "title": str, "escalate_to": str, "created_at": str}, pk="name")
    db["facility_team_members"].create({"team": str, "user_id": int}, pk=("team", "user_id"),
                                       foreign_keys=[("team", "facility_teams", "name"), ("user_id", "users", "id")])
    db["facility_routes"].create({"asset_type": str, "area": str, "team": str}, pk=("asset_type", "area"),
                                 foreign_keys=[("team", "facility_teams", "name")])

    # Work orders: one open per asset at most; reports and device faults join it.
    db["work_orders"].create({
        "id": int, "asset_id": int, "category": str, "source": str, "state": str, "team": str, "assignee": str,
        "opened_at": str, "assigned_at": str, "started_at": str, "resolved_at": str, "closed_at": str,
        "rejected_at": str, "resolution_note": str, "resolution_photo_id": int, "reject_reason": str,
        "due_at": str, "sla_stage": int, "next_sla_at": str, "updated_at": str,
    }, pk="id", not_null={"category", "source", "state", "opened_at", "updated_at"}, defaults={"sla_stage": 0},
        foreign_keys=[("asset_id", "assets", "id")])
    db.conn.execute("CREATE UNIQUE INDEX idx_work_orders_open ON work_orders (asset_id) "
                    "WHERE state IN ('new', 'assigned', 'in_progress') AND asset_id IS NOT NULL")
    db["work_orders"].create_index(["state", "team"])
    db["work_orders"].create_index(["opened_at"])
    db.conn.execute("CREATE INDEX idx_work_orders_sla ON work_orders (next_sla_at) WHERE next_sla_at IS NOT NULL")
    # History; idem_key: a technician's update sent twice (a phone that lost its connection
    # replays its queue) is applied once.
    db["work_order_events"].create({
        "id": int, "work_order_id": int, "at": str, "actor": str, "action": str, "detail": str, "idem_key": str,
    }, pk="id", foreign_keys=[("work_order_id", "work_orders", "id")])
    db["work_order_events"].create_index(["work_order_id", "id"])
    db.conn.execute("CREATE UNIQUE INDEX idx_work_order_events_idem ON work_order_events (idem_key) "
                    "WHERE idem_key IS NOT NULL")

    # Citizen reports: Open311 GeoReport v2 service requests. email/name/phone are personal:
    # never in a public answer. client: a keyed hash of the sender's address (grouping, no IP kept).
    db["service_requests"].create({
        "id": int, "token": str, "service_code": str, "asset_id": int, "work_order_id": int,
        "description": str, "lat": float, "lon": float, "address_string": str, "address_id": str,
        "email": str, "first_name": str, "last_name": str, "phone": str, "device_id": str, "account_id": str,
        "source": str, "app_key_id": int, "client": str, "photo_id": int, "lang": str,
        "requested_at": str, "updated_at": str,
    }, pk="id", not_null={"token", "service_code", "source", "requested_at", "updated_at"},
        foreign_keys=[("asset_id", "assets", "id"), ("work_order_id", "work_orders", "id")])
    db["service_requests"].create_index(["token"], unique=True)
    db["service_requests"].create_index(["requested_at"])
    db["service_requests"].create_index(["work_order_id"])
    db["service_requests"].create_index(["asset_id", "service_code", "client"])

    # API keys of Open311 apps (only a SHA-256 is kept, as for API tokens).
    db["open311_keys"].create({"id": int, "name": str, "key_hash": str, "prefix": str, "created_at": str,
                               "created_by": str, "revoked_at": str}, pk="id")
    db["open311_keys"].create_index(["key_hash"], unique=True)
