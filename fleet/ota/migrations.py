"""The OTA tables: trusted release keys, releases, rollouts with their devices and history, and
each device's failure record (the per-device penalty). Steps of the fleet's one numbered history
(fleet.schema.MIGRATIONS); never edit a released step: add the next number.
"""


def m009_ota(db):
    """Release keys, releases, rollouts, rollout devices and history, device failures (version 9)."""
    # Public keys the fleet accepts signatures from (the private keys stay offline).
    db["ota_keys"].create({"id": str, "pem": str, "added_at": str, "added_by": str,
                           "revoked_at": str, "revoked_by": str}, pk="id", not_null={"pem"})
    # A release: the signed envelope as uploaded, the manifest's fields for queries, the artifact's
    # file (under the release folder) and its strong ETag (the SHA-256).
    db["ota_releases"].create({
        "id": str, "kind": str, "version": str, "sv": int, "boards": str, "roles": str, "size": int,
        "sha256": str, "key_id": str, "envelope": str, "file": str, "expires_at": str, "created_at": str,
        "uploaded_at": str, "uploaded_by": str,
    }, pk="id", not_null={"kind", "envelope"})
    # A rollout of one release: its target and plan (JSON), its state and current phase.
    db["ota_rollouts"].create({
        "id": int, "release_id": str, "name": str, "state": str, "phase": int, "target": str, "plan": str,
        "reason": str, "created_at": str, "created_by": str, "updated_at": str, "phase_started_at": str,
        "finished_at": str,
    }, pk="id", not_null={"release_id", "state", "target", "plan"}, defaults={"phase": 0},
        foreign_keys=[("release_id", "ota_releases", "id")])
    db["ota_rollouts"].create_index(["state"])
    # One row per device a rollout takes in: its phase, where it is (state, stage, reason,
    # progress) and when. state: waiting, offered, <the device's stage>, succeeded, failed,
    # rolled_back, timed_out, skipped.
    db["ota_rollout_devices"].create({
        "rollout_id": int, "device_id": str, "phase": int, "state": str, "reason": str, "progress": int,
        "from_version": str, "offered_at": str, "updated_at": str, "finished_at": str,
    }, pk=("rollout_id", "device_id"), not_null={"state"}, defaults={"progress": 0},
        foreign_keys=[("rollout_id", "ota_rollouts", "id"), ("device_id", "devices", "id")])
    db["ota_rollout_devices"].create_index(["device_id", "state"])
    db["ota_rollout_devices"].create_index(["rollout_id", "phase", "state"])
    # History of a rollout: who started, paused, resumed, aborted, and what the rollout itself did.
    db["ota_rollout_log"].create({"id": int, "rollout_id": int, "at": str, "actor": str, "action": str,
                                  "detail": str}, pk="id", foreign_keys=[("rollout_id", "ota_rollouts", "id")])
    db["ota_rollout_log"].create_index(["rollout_id", "id"])
    # Device failures, for the penalty (n failures within a window block the device for a while).
    db["ota_failures"].create({"id": int, "device_id": str, "rollout_id": int, "at": str, "reason": str}, pk="id")
    db["ota_failures"].create_index(["device_id", "at"])
    db["ota_blocked"].create({"device_id": str, "until": str, "reason": str}, pk="device_id")
