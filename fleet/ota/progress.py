"""What devices hear and say about updates: the `update` downlink provider (the offer, with signed
download URLs) and the `ota` event handler (the device's stage, reason and progress, in the ingest
transaction; an outcome withdraws the offer, a failure counts towards the device's penalty).
docs/ota.md, docs/protocol.md "OTA"."""

import json
import threading

from fleet.core import clock
from fleet.domain.downlink import register_downlink_provider
from fleet.domain.ingest import register_event_handler
from fleet.ota import rollouts, urls

# Set by the running OtaService (fleet/ota/service.py): what offers need from the settings.
config = {"secret": b"", "base": urls.PREFIX, "mirror": "", "ttl_s": 3600, "on_progress": None}
_releases = {}              # release id -> the few fields an offer carries (releases never change)
_lock = threading.Lock()


def manifest_name(release_id):
    return "%s.manifest.json" % release_id


def _release(conn, rid):
    found = _releases.get(rid)
    if found is None:
        r = conn.execute("SELECT id, kind, version, size, sha256, file FROM ota_releases WHERE id = ?", (rid,)).fetchone()
        if r is None:
            return None
        found = dict(zip(("id", "kind", "version", "size", "sha256", "file"), r))
        with _lock:
            _releases[rid] = found
    return found


def offer_for(db, device):
    """Downlink provider `update`: the offer of the device's rollout, or None. A paused or aborted
    rollout withdraws offers the device has not started on (one it started runs to its end). A
    completed key rotation's offer stands for the devices it never reached (off while it ran):
    until they have the new key they refuse every release signed with it (`unknown_key`)."""
    found = db.conn.execute(
        "SELECT rd.state, r.state, r.release_id, r.plan FROM ota_rollout_devices rd JOIN ota_rollouts r "
        "ON r.id = rd.rollout_id WHERE rd.device_id = ? AND rd.state IN (%s) ORDER BY rd.rollout_id DESC LIMIT 1"
        % ",".join("'%s'" % s for s in rollouts.OFFERED), (device.id,)).fetchone()
    if found is None:
        return None
    dstate, rstate, rid, plan = found
    standing = rstate == "completed" and rid.startswith("keys-")
    if rstate not in ("running", "waiting") and dstate not in rollouts.STARTED and not standing:
        return None
    rel = _release(db.conn, rid)
    if rel is None:
        return None
    secret, ttl = config["secret"], config["ttl_s"]
    offer = {"id": rid, "kind": rel["kind"], "version": rel["version"], "gate_s": json.loads(plan)["gate_s"],
             "manifest": urls.signed(secret, config["base"], manifest_name(rid), device.id, ttl)}
    if rel["file"]:
        offer.update(size=rel["size"], sha256=rel["sha256"],
                     url=urls.signed(secret, config["mirror"] or config["base"], rel["file"], device.id, ttl))
    return offer


def on_ota(tx, device, event):
    """An `ota` event: the device's row in the newest rollout of that release follows it."""
    data = event["data"]
    stage = data["stage"]
    conn = tx.conn
    found = conn.execute(
        "SELECT rd.rollout_id, rd.state, r.plan FROM ota_rollout_devices rd JOIN ota_rollouts r ON r.id = rd.rollout_id "
        "WHERE rd.device_id = ? AND r.release_id = ? ORDER BY rd.rollout_id DESC LIMIT 1",
        (device.id, data["id"])).fetchone()
    if found is None:
        return                              # an update outside any rollout: the event is kept, nothing else
    rollout_id, state, plan = found
    if state in rollouts.TERMINAL and stage not in ("succeeded", "rolled_back"):
        return                              # late news of an update already decided
    now = tx.now_iso
    values = {"state": stage, "reason": data.get("reason"), "updated_at": now}
    if "progress" in data:
        values["progress"] = max(0, min(100, data["progress"]))
    if stage == "succeeded":
        values["progress"] = 100
    if stage in rollouts.TERMINAL:
        values["finished_at"] = now
    conn.execute("UPDATE ota_rollout_devices SET %s WHERE rollout_id = ? AND device_id = ?"
                 % ", ".join("%s = ?" % k for k in values), list(values.values()) + [rollout_id, device.id])
    if stage in rollouts.TERMINAL:
        tx.mark_downlink_changed(device.id)     # the offer is withdrawn
    if stage in rollouts.FAILURES:
        penalise(conn, device.id, rollout_id, "%s:%s" % (stage, data.get("reason") or "?"), json.loads(plan), now)
    note = {"rollout": rollout_id, "device_id": device.id, "state": stage, "reason": data.get("reason"),
            "progress": values.get("progress"), "at": now}
    tx.after_commit(lambda: config["on_progress"] and config["on_progress"](note))


def penalise(conn, device_id, rollout_id, reason, plan, now_iso):
    """Record a device failure; penalty.failures within penalty.window_s block it for block_s."""
    conn.execute("INSERT INTO ota_failures (device_id, rollout_id, at, reason) VALUES (?, ?, ?, ?)",
                 (device_id, rollout_id, now_iso, reason))
    pen = plan["penalty"]
    since = clock.iso(clock.parse_iso(now_iso) - pen["window_s"])
    n = conn.execute("SELECT count(*) FROM ota_failures WHERE device_id = ? AND at >= ?", (device_id, since)).fetchone()[0]
    if n >= pen["failures"] and pen["block_s"]:
        until = clock.iso(clock.parse_iso(now_iso) + pen["block_s"])
        conn.execute("INSERT INTO ota_blocked (device_id, until, reason) VALUES (?, ?, ?) ON CONFLICT (device_id) "
                     "DO UPDATE SET until = excluded.until, reason = excluded.reason",
                     (device_id, until, "%d failures in %d s" % (n, pen["window_s"])))


register_event_handler("ota", on_ota)
register_downlink_provider("update", offer_for, replace=True)
