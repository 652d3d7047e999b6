"""`fleet demo`: a ready-to-look-at fleet on 127.0.0.1 with a fresh admin password.

The virtual fleet hook - start_virtual_fleet(url, token_factory) - is where virtual boards
(boards.virtual) plug in: it is called once the server listens, with the server's URL and
a function that mints enrollment tokens. It returns a stop() callable, or None.
"""

import signal
import sys

from fleet.core.security import generate_password
from fleet.domain import enrollment, users
from fleet.errors import NotFound
from fleet.server import serve
from fleet.store.db import open_db

DEMO_USER = "admin"
TOKEN_TTL_S = 3600


# The demo's virtual fleet: a few call buttons and two mains-powered boards on the generic role.
DEMO_BOARDS = (
    ("button-1", "call_button", {"power": "battery"}),
    ("button-2", "call_button", {"power": "battery"}),
    ("button-3", "call_button", {"power": "battery"}),
    ("bin-1", "smart_bin", {"power": "mains", "role_module": "generic"}),
    ("bin-2", "smart_bin", {"power": "mains", "role_module": "generic"}),
)


def start_virtual_fleet(url, token_factory, boards=DEMO_BOARDS, home=None):
    """Start virtual boards that enroll with token_factory(role=..., board=..., site=...) and report to url.

    The boards run in the vboard daemon, so `vboard press button-1` works from another shell.
    Every start re-provisions them with fresh tokens; a board keeps its MAC, so the fleet keeps
    its device id. home: $VBOARD_HOME or ./var/vboards. Returns a stop() callable.
    """
    from boards.virtual import BoardFarm, VBoardError
    from boards.virtual.store import resolve_home

    home = resolve_home(home)

    farm = BoardFarm.connect(home)
    started = []
    for name, role, extra in boards:
        try:
            mac = farm.board(name).hw_id
        except VBoardError:
            mac = None
        config = dict(extra, role=role, fleet_url=url, enroll_token=token_factory(role=role, board="virtual"),
                      wifi={"ssid": "district-iot", "password": "demo-password"}, site="demo")
        farm.create(name, board="virtual", role=role, config=config, mac=mac, replace=True).start()
        started.append(name)
    print("Virtual fleet: %s are running (state in %s).\n"
          "  Press a call button:  .venv/bin/vboard press button-1\n"
          "  Cancel (long press):  .venv/bin/vboard press button-1 --ms 3500\n"
          "  Watch a board:        .venv/bin/vboard log button-1 -f\n"
          "  All boards:           .venv/bin/vboard list\n" % (", ".join(started), home), flush=True)

    def stop():
        try:
            farm.shutdown()
        except VBoardError:
            pass
    return stop


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
        print("\n  Open    %s/\n  Log in  %s / %s\n  Console %s/console (alarms)\n  API     %s/docs\n"
              % (url, DEMO_USER, password, url, url), flush=True)
        stopper = start_virtual_fleet(url, make_token_factory(settings))
        if stopper is not None:
            stop.append(stopper)

    # uvicorn re-raises SIGTERM after its shutdown; make that an exit so the boards stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(settings, on_started)
    finally:
        for stopper in stop:
            stopper()
