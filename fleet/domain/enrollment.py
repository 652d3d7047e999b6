"""Enrollment: single-use, expiring tokens exchanged for a device id and a secret.

People mint tokens (optionally bound to a role, board or site). A device - or the
technician's tool for it - sends one with its hardware id and gets its identity. The same
hardware enrolling again keeps its device id, gets a new secret and a new generation (so its
new event stream starts clean). A refusal only reads - no write lock, no row: the caller counts
it (fleet.domain.throttle.EnrollThrottle), and the audit log gets one summary row per address
and minute, so guessing cannot grow the database.
"""

import json
import secrets

import devproto

from fleet.core import clock, security
from fleet.domain import audit
from fleet.errors import Invalid, NotFound
from fleet.store.db import row, rows, write_tx

TOKEN_PREFIX = "et_"
ID_PREFIX = {"call_button": "cb", "smart_bin": "sb", "beacon": "bc"}
MAX_TTL_S = 90 * 24 * 3600
MAX_COUNT = 500


def mint_tokens(db, actor, expires_s, count=1, role=None, board=None, site=None):
    """[(token row, clear token)]: the clear tokens are returned this once."""
    if role is not None and role not in devproto.ROLES:
        raise Invalid("role must be one of %s, not %r" % (", ".join(devproto.ROLES), role))
    if not 0 < expires_s <= MAX_TTL_S:
        raise Invalid("expiry must be between 1 second and 90 days")
    if not 0 < count <= MAX_COUNT:
        raise Invalid("count must be 1-%d" % MAX_COUNT)
    for name, value in (("board", board), ("site", site)):
        if value is not None and not 0 < len(value) <= devproto.ENROLL_FIELD_MAX:
            raise Invalid("%s must be 1-%d characters" % (name, devproto.ENROLL_FIELD_MAX))
    tokens = [security.new_token(TOKEN_PREFIX) for _ in range(count)]
    rows_in = json.dumps([[security.token_hash(token), token[:7]] for token in tokens])
    # One statement for the whole batch: the write lock is held for milliseconds, not for one GIL
    # round trip per token while the device writer waits (docs/architecture.md).
    with write_tx(db):
        db.conn.execute(
            "INSERT INTO enrollment_tokens (token_hash, prefix, role, board, site, created_by, created_at, "
            "expires_at) SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), ?, ?, ?, ?, ?, ? "
            "FROM json_each(?) AS j",
            (role, board, site, str(actor), clock.iso(), clock.iso_after(expires_s), rows_in))
        ids = dict(db.conn.execute("SELECT token_hash, id FROM enrollment_tokens WHERE token_hash IN "
                                   "(SELECT json_extract(value, '$[0]') FROM json_each(?))", (rows_in,)))
        minted = [(ids[security.token_hash(token)], token) for token in tokens]
        audit.record(db, actor, "enroll_token.create", None,
                     {"count": count, "role": role, "board": board, "site": site, "expires_s": expires_s,
                      "ids": [i for i, _ in minted]})
    return [(get_token(db, i), token) for i, token in minted]


def _state(tok, now_iso):
    if tok["revoked_at"]:
        return "revoked"
    if tok["used_at"]:
        return "used"
    if tok["expires_at"] <= now_iso:
        return "expired"
    return "valid"


def _view(tok, now_iso=None):
    out = {k: tok[k] for k in ("id", "prefix", "role", "board", "site", "created_by", "created_at",
                               "expires_at", "used_at", "device_id", "revoked_at")}
    out["state"] = _state(tok, now_iso or clock.iso())
    return out


def get_token(db, token_id):
    tok = row(db, "SELECT * FROM enrollment_tokens WHERE id = ?", (token_id,))
    if tok is None:
        raise NotFound("no enrollment token %s" % token_id)
    return _view(tok)


def list_tokens(db, state=None):
    now_iso = clock.iso()
    out = [_view(t, now_iso) for t in rows(db, "SELECT * FROM enrollment_tokens ORDER BY id DESC")]
    return [t for t in out if state is None or t["state"] == state]


def revoke_token(db, actor, token_id):
    with write_tx(db):
        get_token(db, token_id)
        db.conn.execute("UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                        (clock.iso(), token_id))
        audit.record(db, actor, "enroll_token.revoke", str(token_id))
    return get_token(db, token_id)


def _refusal(tok, body, now_iso):
    """The protocol error code for a token that cannot be used, or None."""
    if tok is None or tok["revoked_at"]:
        return "token_invalid", "enrollment token unknown: get a new token"
    if tok["used_at"]:
        return "token_used", "enrollment token was already used: get a new token"
    if tok["expires_at"] <= now_iso:
        return "token_expired", "enrollment token expired at %s: get a new token" % tok["expires_at"]
    for field in ("role", "board", "site"):
        if tok[field] is not None and body.get(field, tok[field]) != tok[field]:
            return "token_mismatch", "enrollment token is for %s %r, not %r" % (field, tok[field], body.get(field))
    return None


def enroll(db, box, body, ip=None):
    """Exchange a token (body already passed devproto.check_enroll) for an identity.

    Returns {"device_id", "secret", "config_version", "config", "generation", "reenrolled"};
    raises devproto.ProtocolError for a refused token, having written nothing.
    """
    now_iso = clock.iso()
    token_hash = security.token_hash(body["token"])
    find = "SELECT * FROM enrollment_tokens WHERE token_hash = ?"
    refused = _refusal(row(db, find, (token_hash,)), body, now_iso)
    if refused is None:
        with write_tx(db):
            tok = row(db, find, (token_hash,))
            refused = _refusal(tok, body, now_iso)       # it may have been used in the meantime
            if refused is None:
                result = _issue_identity(db, box, tok, body, now_iso)
                audit.record(db, "device:" + result["device_id"], "device.reenroll" if result["reenrolled"]
                             else "device.enroll", result["device_id"],
                             {"hw_id": body["hw_id"], "role": body["role"], "board": body["board"],
                              "token_id": tok["id"], "generation": result["generation"]}, ip)
    if refused is not None:
        raise devproto.ProtocolError(*refused)
    return result


def _issue_identity(db, box, tok, body, now_iso):
    secret = security.new_device_secret()
    site = tok["site"] or body.get("site")
    existing = row(db, "SELECT id, generation, config, config_version FROM devices WHERE hw_id = ?",
                   (body["hw_id"],))
    if existing:
        device_id, generation = existing["id"], existing["generation"] + 1
        config, version = json.loads(existing["config"]), existing["config_version"]
        db.conn.execute(
            "UPDATE devices SET role = ?, board = ?, site = COALESCE(?, site), secret_enc = ?, generation = ?, "
            "enrolled_at = ?, revoked_at = NULL, status = 'never_seen', status_changed_at = ?, "
            "last_seen = NULL, cursor = cursor + 1 WHERE id = ?",
            (body["role"], body["board"], site, box.seal(device_id, secret), generation, now_iso, now_iso,
             device_id))
    else:
        device_id, generation = _new_device_id(db, body["role"]), 1
        config, version = devproto.role_default_config(body["role"]), 1
        db.conn.execute(
            "INSERT INTO devices (id, hw_id, role, board, site, secret_enc, generation, enrolled_at, config, "
            "config_version, cursor, status, status_changed_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, 1, 1, "
            "'never_seen', ?)",
            (device_id, body["hw_id"], body["role"], body["board"], site, box.seal(device_id, secret), now_iso,
             json.dumps(config), now_iso))
    db.conn.execute("UPDATE enrollment_tokens SET used_at = ?, device_id = ? WHERE id = ?",
                    (now_iso, device_id, tok["id"]))
    return {"device_id": device_id, "secret": secret, "config_version": version,
            "config": config, "generation": generation, "reenrolled": bool(existing)}


def _new_device_id(db, role):
    while True:
        device_id = "%s-%s" % (ID_PREFIX[role], secrets.token_hex(5))
        if row(db, "SELECT 1 AS x FROM devices WHERE id = ?", (device_id,)) is None:
            return device_id
