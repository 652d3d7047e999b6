"""The rollout engine: each tick, for every running rollout, in one short transaction on its own
connection (never on the ingest writer): start the phase (choose its devices), time out devices
that stopped answering, pause on the abort criteria, decide a finished phase (next phase, wait for
a person, completed, or pause), and make new offers within the rate limit and the maintenance
windows, skipping devices a guard or the penalty holds back. docs/ota.md "Rollouts".

Never a device failure: a device that was not seen since its offer (unreachable: it keeps the
offer and is not waited for), one the fleet turned away as busy (its timeout restarts), one a
guard holds back (an open alarm) or that defers by itself.
"""

import hashlib
import json
import time

from fleet.core import clock
from fleet.domain.downlink import raise_cursors
from fleet.domain.guards import update_blocked
from fleet.domain.tags import tags_by_device
from fleet.ota import rollouts, windows
from fleet.ota.progress import penalise
from fleet.store.db import rows, write_tx


def rotated(conn, release_id):
    """Devices that reported a key rotation (`keys-<seq>`) of this seq or a later one succeeded: what
    "running the release's version" is for an app. The board answers nothing to an offer it carried
    out already and refuses an older rotation (`not_newer`), so offering them one again would only
    wait for their timeout."""
    seq = int(release_id.split("-", 1)[1])
    out = set()
    for dev_id, rid in conn.execute(
            "SELECT rd.device_id, o.release_id FROM ota_rollout_devices rd JOIN ota_rollouts o ON o.id = rd.rollout_id "
            "WHERE rd.state = 'succeeded' AND o.release_id LIKE 'keys-%'"):
        if int(rid.split("-", 1)[1]) >= seq:
            out.add(dev_id)
    return out


def _order(rollout_id, device_id):
    return hashlib.sha256(("%s:%s" % (rollout_id, device_id)).encode()).digest()


class Engine:
    def __init__(self, db):
        self.db = db                    # its own connection
        self.credit = {}                # rollout id -> offers it may make now (the rate limit)
        self.last = {}                  # rollout id -> time of its last tick
        self.busy = {}                  # device id -> when the download route last turned it away

    def tick(self, now=None):
        """One pass over the running rollouts; returns (device ids whose offer changed, rollout ids
        that changed)."""
        now = now or time.time()
        changed, touched = [], []
        for r in rows(self.db, "SELECT * FROM ota_rollouts WHERE state = 'running' ORDER BY id"):
            with write_tx(self.db):
                offers, moved = self._step(self.db.conn, rollouts._decorate(r), now)
            changed += offers
            if offers or moved:
                touched.append(r["id"])
        return changed, touched

    # ---- one rollout ------------------------------------------------------------------------

    def _step(self, conn, r, now):
        plan = r["plan"]
        phases = plan["phases"]
        idx = r["phase"]
        now_iso = clock.iso(now)
        if idx >= len(phases):
            self._set(conn, r["id"], state="completed", finished_at=now_iso)
            return [], True
        phase = phases[idx]
        moved = False
        if r["phase_started_at"] is None:
            if phase.get("start_at") and clock.parse_iso(phase["start_at"]) > now:
                return [], False
            n = self._assign(conn, r, idx, phase)
            self._set(conn, r["id"], phase_started_at=now_iso)
            rollouts.log(conn, r["id"], "rollout", "phase_started", {"phase": phase["name"], "devices": n})
            moved = True
        moved |= self._timeouts(conn, r, plan, now)
        decision = self._decide(conn, r, plan, idx, now_iso)
        if decision == "paused":
            # offers not started on are withdrawn (the provider answers null for them now)
            held = [d for (d,) in conn.execute("SELECT device_id FROM ota_rollout_devices WHERE rollout_id = ? "
                                               "AND state IN ('offered', 'deferred')", (r["id"],))]
            if held:
                raise_cursors(conn, held)
            return held, True
        if decision:
            return [], True
        offers = self._offer(conn, r, plan, idx, now)
        if offers:
            raise_cursors(conn, offers)
        return offers, moved

    def _set(self, conn, rollout_id, **values):
        values["updated_at"] = clock.iso()
        conn.execute("UPDATE ota_rollouts SET %s WHERE id = ?" % ", ".join("%s = ?" % k for k in values),
                     list(values.values()) + [rollout_id])

    def _eligible(self, conn, r):
        """Devices of the target (with all its tags) the release is for, not yet in this rollout, not in another
        unfinished one, not already running the release's version; in the rollout's order."""
        rel = conn.execute("SELECT kind, version, boards, roles FROM ota_releases WHERE id = ?",
                           (r["release_id"],)).fetchone()
        kind, version, rboards, rroles = rel[0], rel[1], json.loads(rel[2]), json.loads(rel[3])
        t = r["target"]
        taken = {d for (d,) in conn.execute(
            "SELECT rd.device_id FROM ota_rollout_devices rd JOIN ota_rollouts o ON o.id = rd.rollout_id "
            "WHERE rd.rollout_id = ? OR (o.state IN ('running', 'waiting', 'paused') AND rd.state IN (%s))"
            % ",".join("'%s'" % s for s in ("waiting",) + rollouts.OFFERED), (r["id"],))}
        if kind == "keys":                      # a rotation: nothing in the hello says it is applied
            taken |= rotated(conn, r["release_id"])
        wanted_tags = set(t.get("tags", ()))
        tagged = tags_by_device(conn) if wanted_tags else {}
        out = []
        for dev_id, role, board, site, app, fw in conn.execute(
                "SELECT id, role, board, site, app, fw FROM devices WHERE revoked_at IS NULL"):
            current = fw if kind == "firmware" else app
            if dev_id in taken or (kind != "keys" and current == version):
                continue
            if ("*" not in rboards and board not in rboards) or ("*" not in rroles and role not in rroles):
                continue
            if any(key in t and value not in t[key] for key, value in (
                    ("roles", role), ("boards", board), ("sites", site), ("versions", current), ("devices", dev_id))):
                continue
            if not wanted_tags <= tagged.get(dev_id, set()):
                continue                        # a device must have every tag of the target
            out.append((dev_id, current))
        out.sort(key=lambda d: _order(r["id"], d[0]))
        return out

    def _assign(self, conn, r, idx, phase):
        eligible = self._eligible(conn, r)
        if "devices" in phase:
            want = set(phase["devices"])
            chosen = [d for d in eligible if d[0] in want]
        elif "count" in phase:
            chosen = eligible[:phase["count"]]
        else:
            assigned = conn.execute("SELECT count(*) FROM ota_rollout_devices WHERE rollout_id = ?",
                                    (r["id"],)).fetchone()[0]
            chosen = eligible[:rollouts.wanted(phase, assigned + len(eligible), assigned)]
        now = clock.iso()
        conn.executemany("INSERT INTO ota_rollout_devices (rollout_id, device_id, phase, state, from_version, updated_at) "
                         "VALUES (?, ?, ?, 'waiting', ?, ?)", [(r["id"], d, idx, v, now) for d, v in chosen])
        return len(chosen)

    def _timeouts(self, conn, r, plan, now):
        limit = clock.iso(now - plan["device_timeout_s"])
        late = conn.execute(
            "SELECT rd.device_id, rd.state, rd.offered_at, rd.updated_at, d.last_seen FROM ota_rollout_devices rd "
            "JOIN devices d ON d.id = rd.device_id WHERE rd.rollout_id = ? AND ((rd.state IN (%s) AND rd.updated_at < ?) "
            "OR (rd.state = 'offered' AND rd.offered_at < ?))" % ",".join("'%s'" % s for s in rollouts.STARTED),
            (r["id"], limit, limit)).fetchall()
        moved = False
        for dev_id, state, offered_at, _updated, last_seen in late:
            busy = self.busy.get(dev_id)
            if busy is not None and busy > now - plan["device_timeout_s"]:
                continue                        # turned away by a busy server: waiting, not failing
            if state == "offered" and (last_seen is None or last_seen < offered_at):
                continue                        # not seen since the offer: unreachable, not failed
            stamp = clock.iso(now)
            conn.execute("UPDATE ota_rollout_devices SET state = 'timed_out', reason = ?, updated_at = ?, "
                         "finished_at = ? WHERE rollout_id = ? AND device_id = ?",
                         ("no outcome within %d s" % plan["device_timeout_s"], stamp, stamp, r["id"], dev_id))
            penalise(conn, dev_id, r["id"], "timed_out", plan, stamp)
            raise_cursors(conn, [dev_id])
            moved = True
        return moved

    def _decide(self, conn, r, plan, idx, now_iso):
        """Pause on the abort criteria; move on when the phase is over. True when the state changed."""
        phase = plan["phases"][idx]
        counts = {}
        unreachable = 0
        for state, offered_at, last_seen in conn.execute(
                "SELECT rd.state, rd.offered_at, d.last_seen FROM ota_rollout_devices rd JOIN devices d "
                "ON d.id = rd.device_id WHERE rd.rollout_id = ? AND rd.phase = ?", (r["id"], idx)):
            counts[state] = counts.get(state, 0) + 1
            if state == "offered" and (last_seen is None or last_seen < offered_at):
                unreachable += 1
        ab = plan["abort"]
        failed = sum(counts.get(s, 0) for s in ab["types"])
        decided = counts.get("succeeded", 0) + sum(counts.get(s, 0) for s in rollouts.FAILURES)
        if failed >= ab["min_devices"] and failed * 100 >= ab["failure_pct"] * max(decided, 1):
            why = "%d of %d devices failed in phase %s (abort at %d%%, at least %d)" % (
                failed, decided, phase["name"], ab["failure_pct"], ab["min_devices"])
            self._set(conn, r["id"], state="paused", reason=why)
            rollouts.log(conn, r["id"], "rollout", "paused", {"reason": why})
            return "paused"
        open_ = sum(counts.get(s, 0) for s in ("waiting", "deferred") + rollouts.STARTED) \
            + counts.get("offered", 0) - unreachable
        if open_ > 0 or (decided == 0 and sum(counts.values()) > 0):
            return False
        ratio = 100.0 * counts.get("succeeded", 0) / decided if decided else 100.0
        if ratio < plan["success"]["threshold"]:
            why = "phase %s: %.0f%% succeeded, below %d%%" % (phase["name"], ratio, plan["success"]["threshold"])
            self._set(conn, r["id"], state="paused", reason=why)
            rollouts.log(conn, r["id"], "rollout", "paused", {"reason": why})
            return "paused"
        if idx + 1 >= len(plan["phases"]):
            self._set(conn, r["id"], state="completed", finished_at=now_iso, reason=None)
            rollouts.log(conn, r["id"], "rollout", "completed", {"phase": phase["name"]})
            return True
        if plan["success"]["auto"]:
            self._set(conn, r["id"], phase=idx + 1, phase_started_at=None, reason=None)
            rollouts.log(conn, r["id"], "rollout", "phase_done", {"phase": phase["name"], "succeeded": round(ratio)})
        else:
            why = "phase %s done (%.0f%% succeeded): waiting for a person to go on" % (phase["name"], ratio)
            self._set(conn, r["id"], state="waiting", reason=why)
            rollouts.log(conn, r["id"], "rollout", "waiting", {"phase": phase["name"], "succeeded": round(ratio)})
        return True

    def _offer(self, conn, r, plan, idx, now):
        rate = plan["rate_per_min"]
        last = self.last.get(r["id"], now - 60)
        self.last[r["id"]] = now
        credit = min(float(rate), self.credit.get(r["id"], 0.0) + rate * (now - last) / 60.0)
        self.credit[r["id"]] = credit
        if credit < 1 or not windows.is_open(plan["windows"], now):
            return []
        blocked = {d: u for d, u in conn.execute("SELECT device_id, until FROM ota_blocked WHERE until > ?",
                                                 (clock.iso(now),))}
        out = []
        stamp = clock.iso(now)
        for dev_id, role in conn.execute(
                "SELECT rd.device_id, d.role FROM ota_rollout_devices rd JOIN devices d ON d.id = rd.device_id "
                "WHERE rd.rollout_id = ? AND rd.phase = ? AND rd.state = 'waiting' ORDER BY rd.rowid",
                (r["id"], idx)).fetchall():
            if len(out) >= int(credit):
                break
            why = ("blocked until %s" % blocked[dev_id]) if dev_id in blocked else update_blocked(conn, dev_id, role)
            if why:
                conn.execute("UPDATE ota_rollout_devices SET reason = ? WHERE rollout_id = ? AND device_id = ? "
                             "AND coalesce(reason, '') != ?", (why, r["id"], dev_id, why))
                continue
            conn.execute("UPDATE ota_rollout_devices SET state = 'offered', reason = NULL, offered_at = ?, "
                         "updated_at = ? WHERE rollout_id = ? AND device_id = ?", (stamp, stamp, r["id"], dev_id))
            out.append(dev_id)
        self.credit[r["id"]] = credit - len(out)
        return out
