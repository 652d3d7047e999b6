"""Web sessions and API tokens: bearer secrets stored only as SHA-256 hashes.

A session is what the login form gives a browser (a cookie); an API token is what a tool
sends as `Authorization: Bearer ft_...`. Both act with their user's role, and both stop
working when the user is disabled.
"""

from fleet.core import clock, security
from fleet.domain import audit
from fleet.domain.users import authenticate, principal_for
from fleet.errors import NotFound, Unauthorized
from fleet.store.db import row, rows, write_tx

SESSION_PREFIX = "fs_"
TOKEN_PREFIX = "ft_"


def create_session(db, user, hours):
    """A new session id (the cookie value) for user."""
    sid = security.new_token(SESSION_PREFIX)
    with write_tx(db):
        db.conn.execute(
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (security.token_hash(sid), user["id"], clock.iso(), clock.iso_after(hours * 3600)))
        db.conn.execute("DELETE FROM sessions WHERE expires_at < ?", (clock.iso(),))
        audit.record(db, "user:" + user["username"], "session.login", user["username"])
    return sid


def login(db, username, password, hours, ip=None, throttle=None):
    """(session id, user) for a correct username and password; a wrong one is audited.

    With a throttle (fleet.domain.throttle.LoginThrottle), too many failures from this address
    or for this account raise TooManyAttempts before the password is even looked at."""
    attempt = throttle.begin(username, ip) if throttle is not None else None
    ok = None                      # neither right nor wrong if the check itself failed
    try:
        user = authenticate(db, username, password)
        ok = True
    except Unauthorized:
        ok = False
        with write_tx(db):
            audit.record(db, "anonymous", "session.refused", username[:64], None, ip)
        raise
    finally:
        if attempt is not None:
            throttle.end(attempt, ok)
    return create_session(db, user, hours), user


def end_session(db, sid):
    with write_tx(db):
        db.conn.execute("DELETE FROM sessions WHERE id_hash = ?", (security.token_hash(sid),))


def session_principal(db, sid):
    found = row(db, "SELECT u.*, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id "
                    "WHERE s.id_hash = ?", (security.token_hash(sid),))
    if found is None or found["disabled"] or found["expires_at"] < clock.iso():
        raise Unauthorized("session expired: log in again")
    return principal_for(found)


def create_token(db, actor, user_id, name):
    """(token row, clear token). The clear value is returned this once."""
    token = security.new_token(TOKEN_PREFIX)
    with write_tx(db):
        user = row(db, "SELECT * FROM users WHERE id = ?", (user_id,))
        if user is None:
            raise NotFound("no user with id %s" % user_id)
        cur = db.conn.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
            (user_id, name, security.token_hash(token), token[:7], clock.iso()))
        audit.record(db, actor, "token.create", user["username"], {"name": name, "id": cur.lastrowid})
    return get_token(db, cur.lastrowid), token


def _token_view(t):
    return {k: t[k] for k in ("id", "user_id", "username", "name", "prefix",
                              "created_at", "last_used_at", "revoked_at")}


def get_token(db, token_id):
    t = row(db, "SELECT t.*, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id "
                "WHERE t.id = ?", (token_id,))
    if t is None:
        raise NotFound("no API token with id %s" % token_id)
    return _token_view(t)


def list_tokens(db, user_id=None):
    sql = "SELECT t.*, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id"
    if user_id is None:
        return [_token_view(t) for t in rows(db, sql + " ORDER BY t.id")]
    return [_token_view(t) for t in rows(db, sql + " WHERE t.user_id = ? ORDER BY t.id", (user_id,))]


def revoke_token(db, actor, token_id):
    with write_tx(db):
        token = get_token(db, token_id)
        db.conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                        (clock.iso(), token_id))
        audit.record(db, actor, "token.revoke", token["username"], {"id": token_id, "name": token["name"]})
    return get_token(db, token_id)


def token_principal(db, token, note_use):
    """The Principal of an API token. Read-only: a use worth saving (`last_used_at`, minute
    resolution) goes to note_use(token_id) - the running server hands it to its writer. A request
    never writes it on its own connection: even an UPDATE that changes no row takes SQLite's write
    lock, and waiting for that lock behind the busy writer cost admin requests (a caregiver's
    acknowledge among them) up to half a second under load (docs/performance.md)."""
    found = row(db, "SELECT u.*, t.id AS token_id, t.revoked_at, t.last_used_at AS token_used_at "
                    "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
                (security.token_hash(token),))
    if found is None or found["revoked_at"] or found["disabled"]:
        raise Unauthorized("API token unknown or revoked")
    if _use_is_news(found["token_used_at"]):
        note_use(found["token_id"])
    return principal_for(found, kind="token")


def _use_is_news(last_used_at):
    return last_used_at is None or last_used_at[:16] < clock.iso()[:16]


def record_token_use(conn, token_id):
    """In an open transaction: the token was used now (unless already this minute)."""
    now = clock.iso()
    conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND "
                 "(last_used_at IS NULL OR substr(last_used_at, 1, 16) < ?)", (now, token_id, now[:16]))
