"""The provisioning tables (version 10 of fleet.schema.MIGRATIONS). Never edit a released step:
add the next number there."""


def m010_provisioning_runs(db):
    """One row per board a technician's `provision` run took on: who, which board, the outcome."""
    db["provisioning_runs"].create({
        "id": int, "user_id": int, "technician": str, "received_at": str, "started_at": str,
        "port": str, "mac": str, "hw_id": str, "role": str, "board": str, "site": str, "firmware": str,
        "device_id": str, "token_id": int, "ok": int, "code": str, "stage": str, "error": str, "fix": str,
        "seconds": float, "stages": str,
    }, pk="id", not_null={"technician", "received_at", "started_at", "ok"})
    db["provisioning_runs"].create_index(["user_id", "id"])
    db["provisioning_runs"].create_index(["hw_id", "id"])
