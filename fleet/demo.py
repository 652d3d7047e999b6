"""`fleet demo`: a ready-to-look-at fleet on 127.0.0.1 with a fresh admin password.

The virtual fleet hook - start_virtual_fleet(url, token_factory) - is where virtual boards
(boards.virtual) plug in: it is called once the server listens, with the server's URL and
a function that mints enrollment tokens. It returns a stop() callable, or None.
"""

from fleet.core.security import generate_password
from fleet.domain import enrollment, users
from fleet.errors import NotFound
from fleet.server import serve
from fleet.store.db import open_db

DEMO_USER = "admin"
TOKEN_TTL_S = 3600


def start_virtual_fleet(url, token_factory):
    """Start virtual boards that enroll with token_factory(role=..., board=..., site=...) and report to url.

    Nothing yet: the virtual board work replaces this body. Return a stop() callable or None.
    """
    print("Virtual fleet: no virtual boards yet (boards.virtual will start them here).", flush=True)
    return None


def make_token_factory(settings):
    """token_factory(role=None, board=None, site=None) -> a fresh single-use enrollment token."""
    def token_factory(role=None, board=None, site=None):
        db = open_db(settings.db)
        try:
            [(_, token)] = enrollment.mint_tokens(db, users.Principal("cli", "demo", "admin"), TOKEN_TTL_S,
                                                  1, role, board, site)
            return token
        finally:
            db.close()
    return token_factory


def reset_admin(settings):
    """Create the demo admin, or give it a new password; return the password."""
    password = generate_password()
    db = open_db(settings.db)
    try:
        actor = users.Principal("cli", "demo", "admin")
        try:
            users.find_user(db, DEMO_USER)
            users.set_password(db, actor, DEMO_USER, password)
        except NotFound:
            users.create_user(db, actor, DEMO_USER, "admin", password)
    finally:
        db.close()
    return password


def run_demo(settings):
    password = reset_admin(settings)
    stop = []

    def on_started(url):
        print("\n  Open   %s/\n  Log in %s / %s\n  API    %s/docs\n" % (url, DEMO_USER, password, url), flush=True)
        stopper = start_virtual_fleet(url, make_token_factory(settings))
        if stopper is not None:
            stop.append(stopper)

    try:
        serve(settings, on_started)
    finally:
        for stopper in stop:
            stopper()
