"""People: users with a role and a password (argon2), and who is acting (Principal)."""

import dataclasses
import re

from fleet.core import clock, security
from fleet.domain import audit
from fleet.errors import Conflict, Invalid, NotFound, Unauthorized
from fleet.store.db import row, rows, write_tx

ROLES = ("admin", "caregiver", "technician")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is acting: a logged-in user, a user's API token, or the local CLI."""
    kind: str            # "user", "token" or "cli"
    name: str            # username (or the OS user for the CLI)
    role: str
    user_id: int = None

    def __str__(self):
        return "%s:%s" % (self.kind, self.name)


def cli_principal():
    import getpass
    return Principal("cli", getpass.getuser(), "admin")


def _check_role(role):
    if role not in ROLES:
        raise Invalid("role must be one of %s, not %r" % (", ".join(ROLES), role))


def _check_password(password):
    if len(password) < security.MIN_PASSWORD:
        raise Invalid("password must be at least %d characters" % security.MIN_PASSWORD)


def public(user):
    return {k: user[k] for k in ("id", "username", "role", "created_at", "disabled")}


def create_user(db, actor, username, role, password):
    if not USERNAME.match(username or ""):
        raise Invalid("username must be 2-32 characters: lower-case letters, digits, '.', '_' or '-'")
    _check_role(role)
    _check_password(password)
    hashed = security.hash_password(password)
    with write_tx(db):
        if row(db, "SELECT id FROM users WHERE username = ?", (username,)):
            raise Conflict("user %r already exists" % username)
        cur = db.conn.execute(
            "INSERT INTO users (username, role, password_hash, created_at, disabled) VALUES (?, ?, ?, ?, 0)",
            (username, role, hashed, clock.iso()))
        audit.record(db, actor, "user.create", username, {"role": role})
    return get_user(db, cur.lastrowid)


def get_user(db, user_id):
    user = row(db, "SELECT * FROM users WHERE id = ?", (user_id,))
    if user is None:
        raise NotFound("no user with id %s" % user_id)
    return public(user)


def find_user(db, username):
    user = row(db, "SELECT * FROM users WHERE username = ?", (username,))
    if user is None:
        raise NotFound("no user named %r" % username)
    return public(user)


def list_users(db):
    return [public(u) for u in rows(db, "SELECT * FROM users ORDER BY username")]


def set_password(db, actor, username, password):
    _check_password(password)
    hashed = security.hash_password(password)
    with write_tx(db):
        user = find_user(db, username)
        db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (hashed, user["id"]))
        # A new password ends every open web session of that user.
        db.conn.execute("DELETE FROM sessions WHERE user_id = ?", (user["id"],))
        audit.record(db, actor, "user.passwd", username)


def update_user(db, actor, user_id, role=None, disabled=None):
    with write_tx(db):
        user = get_user(db, user_id)
        changes = {}
        if role is not None:
            _check_role(role)
            changes["role"] = role
        if disabled is not None:
            changes["disabled"] = int(bool(disabled))
        if changes:
            sets = ", ".join("%s = ?" % k for k in changes)
            db.conn.execute("UPDATE users SET %s WHERE id = ?" % sets, (*changes.values(), user_id))
            if changes.get("disabled"):
                db.conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            audit.record(db, actor, "user.update", user["username"], changes)
    return get_user(db, user_id)


def authenticate(db, username, password):
    """The user for a correct username and password; Unauthorized otherwise (same message for both)."""
    user = row(db, "SELECT * FROM users WHERE username = ?", (username,))
    if user is None:
        security.hash_password(password)  # spend the same time: do not reveal which names exist
        raise Unauthorized("wrong username or password")
    if not security.verify_password(user["password_hash"], password) or user["disabled"]:
        raise Unauthorized("wrong username or password")
    return public(user)


def principal_for(user, kind="user"):
    return Principal(kind, user["username"], user["role"], user["id"])
