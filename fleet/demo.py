"""`fleet demo`: a ready-to-look-at fleet on 127.0.0.1 with a fresh admin password.

Everything the demo keeps is in one folder, the data dir (var/ by default): the database, its key,
the virtual boards (vboards/) and demo.lock, held while the demo runs (fleet.demolock). A second
demo on the same folder stops before it changes anything; so does one whose port is taken.

The virtual fleet hook - start_virtual_fleet(url, token_factory) - is where virtual boards
(boards.virtual) plug in: it is called once the server listens, with the server's URL and
a function that mints enrollment tokens. It returns a stop() callable, or None.
"""

import os
import signal
import sys
import threading
from pathlib import Path

from fleet.core.security import generate_password
from fleet.demolock import DemoLock
from fleet.domain import enrollment, users
from fleet.errors import NotFound
from fleet.server import bind, serve
from fleet.schema import open_db

DEMO_USER = "admin"
TOKEN_TTL_S = 3600


# The demo's virtual fleet: a few call buttons and three mains-powered smart bins.
DEMO_BOARDS = (
    ("button-1", "call_button", {"power": "battery"}),
    ("button-2", "call_button", {"power": "battery"}),
    ("button-3", "call_button", {"power": "battery"}),
    ("bin-1", "smart_bin", {"power": "mains"}),
    ("bin-2", "smart_bin", {"power": "mains"}),
    ("bin-3", "smart_bin", {"power": "mains"}),
)
# Each demo bin's world is a bin of the seeded virtual district (boards/virtual/district.py),
# filling DEMO_SPEED times faster than real time: a simulated day every four real minutes.
DEMO_DISTRICT = {"bin-1": "1:B0000", "bin-2": "1:B0001", "bin-3": "1:B0004"}
DEMO_SPEED = 360.0


def start_virtual_fleet(url, token_factory, boards=DEMO_BOARDS, home=None, files=None, open_db=None):
    """Start virtual boards that enroll with token_factory(role=..., board=..., site=...) and report to url.

    The boards run in the vboard daemon, so `vboard press button-1` works from another shell.
    Every start re-provisions them with fresh tokens; a board keeps its MAC, so the fleet keeps
    its device id. home: $VBOARD_HOME or ./var/vboards. files: more files for every board (the
    release key it trusts). Smart bins named in DEMO_DISTRICT fill as their district bin does; with
    open_db (a function giving a database connection) they enter the bins registry once enrolled
    (in a thread: the start does not wait). Returns a stop() callable.
    """
    from boards.virtual import BoardFarm, VBoardError
    from boards.virtual.store import default_home, resolve_home

    home = resolve_home(home)

    farm = BoardFarm.connect(home)
    started, demo_bins = [], []
    for name, role, extra in boards:
        try:
            mac = farm.board(name).hw_id
        except VBoardError:
            mac = None
        config = dict(extra, role=role, fleet_url=url, enroll_token=token_factory(role=role, board="virtual"),
                      wifi={"ssid": "district-iot", "password": "demo-password"}, site="demo")
        board = farm.create(name, board="virtual", role=role, config=config, mac=mac, replace=True)
        if files:
            board.deploy(files)
        if name in DEMO_DISTRICT:
            board.set_world(district_bin=DEMO_DISTRICT[name], district_speed=DEMO_SPEED, bin_depth_cm=100.0)
            demo_bins.append(_demo_bin(name, board.hw_id, DEMO_DISTRICT[name]))
        board.start()
        started.append(name)
    if demo_bins and open_db is not None:
        from fleet.waste.demo import register_when_enrolled
        threading.Thread(target=register_when_enrolled, args=(open_db, demo_bins), name="demo-bins",
                         daemon=True).start()
    # The vboard command finds these boards by itself only in its default home.
    vboard = shown_tool("vboard")
    if home != default_home().resolve():
        vboard = "VBOARD_HOME=%s %s" % (shown(home), vboard)
    print("Virtual fleet: %s are running (state in %s).\n"
          "  Press a call button:  %s press button-1\n"
          "  Cancel (long press):  %s press button-1 --ms 3500\n"
          "  Watch a board:        %s log button-1 -f\n"
          "  All boards:           %s list\n"
          "  Bins fill a day every %d min: see /bins; empty one:  %s set bin-1 bin_fill_pct=0\n"
          % (", ".join(started), shown(home), vboard, vboard, vboard, vboard, 86400 / DEMO_SPEED / 60, vboard),
          flush=True)

    def stop():
        try:
            farm.shutdown()
        except VBoardError:
            pass
    return stop


def _demo_bin(name, hw_id, spec):
    from boards.virtual import binworld
    twin = binworld.DistrictFollower(spec).bin
    return {"id": name.upper(), "name": "demo %s (district %s)" % (name, spec), "hw_id": hw_id, "lat": twin.lat,
            "lon": twin.lon, "waste_type": twin.waste_type}


def demo_release_key(settings):
    """The demo's release key (docs/ota.md "Try it"): made once in release-keys/ of the data dir,
    trusted by the demo's fleet, its public part put on every virtual board. {path: bytes}."""
    from fleet.ota import releases, signing
    folder = settings.data_dir / "release-keys"
    found = sorted(folder.glob("*.pub.pem")) if folder.is_dir() else []
    if not found:
        signing.generate(folder)
        found = sorted(folder.glob("*.pub.pem"))
    pem = found[0].read_bytes()
    kid, modulus = signing.load_public(pem)
    db = open_db(settings.db)
    try:
        releases.trust_key(db, users.Principal("cli", "demo", "admin"), pem)
    finally:
        db.close()
    return {"/keys/%s.rsa" % kid: modulus}


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


def shown(path):
    """A path as a person would type it here: relative below the current folder, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def shown_tool(name):
    from boards.tools import ToolMissing, tool_path
    try:
        return shown(tool_path(name))
    except ToolMissing:
        return name


def vboard_home(settings):
    """$VBOARD_HOME, else vboards/ in the demo's data dir (var/vboards for the default demo)."""
    return Path(os.environ.get("VBOARD_HOME") or settings.data_dir / "vboards").expanduser().resolve()


def banner(url, password, settings):
    fleet, db = shown_tool("fleet"), shown(settings.db)
    return ("\n  Open    %s/\n  Log in  %s / %s\n  Console %s/console (alarms)\n  API     %s/docs\n\n"
            "  The command line works on this demo's database with --db or FLEET_DB:\n"
            "    %s alarm list --db %s\n"
            "    export FLEET_DB=%s      # then: %s device list\n"
            "  Updates %s/ota - a release for the virtual boards: docs/ota.md \"Try it\"\n"
            "  Stop the demo with Ctrl-C.\n"
            % (url, DEMO_USER, password, url, url, fleet, db, Path(settings.db).resolve(), fleet, url))


def asset_urls(settings, url):
    """The demo's facilities (seeded once) and their public pages: what their QR labels open."""
    from fleet import schema
    from fleet.facilities import seed
    db = schema.open_db(settings.db)
    try:
        found = seed.seed(db, settings.public_url or url)
    finally:
        db.close()
    return "  Public facilities (what their QR labels open; no login):\n" + "".join(
        "    %-14s %s  %s\n" % (kind, link, name) for kind, name, link in found)


def run_demo(settings):
    """Serve the demo until Ctrl-C or SIGTERM. DemoRunning or PortInUse before anything is changed."""
    lock = DemoLock(settings.data_dir).acquire()
    try:
        sock = bind(settings.host, settings.port)
        _serve_demo(settings, lock, sock)
    finally:
        lock.release()


def _serve_demo(settings, lock, sock):
    password = reset_admin(settings)
    home = vboard_home(settings)
    about = dict(db=Path(settings.db).resolve(), vboard_home=home)
    lock.publish(**about)
    stop = []

    def on_started(url):
        lock.publish(url=url, **about)
        print(banner(url, password, settings), flush=True)
        print(asset_urls(settings, url), flush=True)
        stopper = start_virtual_fleet(url, make_token_factory(settings), home=home, files=demo_release_key(settings),
                                      open_db=lambda: open_db(settings.db))
        if stopper is not None:
            stop.append(stopper)

    # uvicorn re-raises SIGTERM after its shutdown; make that an exit so the boards stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(settings, on_started, sock=sock)
    finally:
        for stopper in stop:
            stopper()
