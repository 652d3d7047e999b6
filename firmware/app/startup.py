# The start of a wake (see supervisor.py): read the state files, load the role, open
# the outbox, make the Wi-Fi and link, start the tasks. Runtime() imports it and
# Runtime.run() drops it once the tasks run, so this code does not stay in the heap.
# Nothing made here may keep a reference to this module (no closures, no functions of
# it handed out): only the runtime's own methods are passed on.
import sys
import gc
import asyncio
import devproto
import log
import store
from config import Config
from board import Board
from rtcmem import RtcMem, Clock


def init(rt, ident=None, ub=None, pressed=False):
    """Runtime.__init__: boot state, config (ident: /config.json as main() read it), board, RTC
    memory, errors kept for the hello. ub: /state/otaboot.json as main() read it (otaboot.py):
    an offer makes this an update boot (rt.ub), a press that ended one counts as a pin wake.
    pressed: the button was pressed while the board booted (supervisor._setup_mode): it counts
    as the press of a pin wake too (the wake reason stays what it was)."""
    import bootstate                    # read now, marked later (hello.py, power.py): dropped
    st = bootstate.BootState()
    sys.modules.pop("bootstate", None)
    rt.healthy = False                  # marked healthy in this boot (hello ok)
    rt.ota_boot = bool(st.get("ota"))   # the first boot after an update: otagate decides health
    rt.trial = bool(st.get("trial"))    # the slot is on trial (an update not yet confirmed)
    rt.config = cf = Config(ident)
    rt.cfg = cf.dev
    rt.board = Board()
    rt.rtc = RtcMem()
    rt.clock = Clock(rt.rtc)
    rt.slot = st.slot
    rt.app_version = st.get("version") or "0.0.0"
    rc, wr = st.get("reset_cause"), st.get("wake_reason")
    rt.reset_cause = rc if rc in devproto.RESET_CAUSES else "unknown"
    rt.wake_reason = wr if wr in devproto.WAKE_REASONS else "unknown"
    rt.ub = None                        # an update boot: {"offer", "btn"} (otaboot.py)
    if ub is not None:
        store.remove("/state/otaboot.json")     # read once: a crash here is not a loop
        if ub.get("press"):             # the press that ended an update boot: as if it woke us
            rt.wake_reason = "pin"
        elif isinstance(ub.get("offer"), dict):
            rt.ub = ub
    rt.woke_by_pin = pressed or rt.wake_reason in ("pin", "ext1")
    rt.battery_powered = cf.get("power") == "battery"
    rt.board_name = rt.board.data.get("name") or cf.get("board") or "unknown"
    rt.tokens = set()                   # stay-awake reasons
    rt.offline_ms = 20000               # a sleeping role waits this long for the fleet per wake
    rt.quiet = False                    # this wake uses no network (see start)
    rt.outbox = rt.link = rt.wifi = rt.role = rt.decision = None
    rt._drv = {}                        # drivers made so far (see Runtime.__getattr__)
    rt._polling = False
    rt._tasks = []
    rt._beats = {}
    rt._cmds = set()                    # command ids running now
    rt._upd = None                      # the update offer (its id) taken up in this wake
    errs = store.read_json("/state/errors.json", [])
    rt.errors = [e for e in errs if isinstance(e, str)] if isinstance(errs, list) else []
    try:                                # main.py could not start the app last time
        with open(store.path("/state/crash.txt")) as f:
            rt.record_error(f.read())
        store.remove("/state/crash.txt")
    except OSError:
        pass
    note = st.get("note")               # boot.py fell back to the other slot
    if note and ("boot: " + note) not in rt.errors:
        rt.record_error("boot: " + note)
    if rt.ub is not None and rt.ub.get("env"):
        import otaboot                  # (run() needs it later anyway)
        otaboot.early(rt)               # the envelope verified before the heap fragments
    # The SSLContext for an https fleet, first of what the wake keeps: one ~3 KB block (on the
    # unix port) that the heap has in one piece now, before the modules are loaded -- each
    # import leaves small holes (a short-lived copy of every name it interns).
    rt.tls = None
    if (cf.get("fleet_url") or "").startswith("https://"):
        import connect
        rt.tls = connect.setup(cf, rt.clock)
        sys.modules.pop("connect", None)


def role(cf):
    """The role module (roles/<role_module or role>.py; generic when there is none)."""
    name = cf.get("role_module") or cf.get("role")
    try:
        return getattr(__import__("roles." + name), name)
    except ImportError as ex:
        if name not in str(ex):
            raise
        log.w("supervisor", "no role module %s, running generic" % name)
        return getattr(__import__("roles.generic"), "generic")


def start(rt):
    """Runtime.run() up to its wait: returns ("idle", None) when not provisioned."""
    asyncio.get_event_loop().set_exception_handler(rt._loop_exc)
    cf = rt.config
    log.i("supervisor", "start app=%s slot=%s role=%s board=%s reset=%s wake=%s heap=%d" % (
        rt.app_version, rt.slot, cf.get("role"), rt.board_name,
        rt.reset_cause, rt.wake_reason, gc.mem_free()))
    if not cf.provisioned():
        log.e("config", "/config.json missing or incomplete (role, fleet_url): not provisioned")
        if rt.led:
            rt.led.show("unprovisioned")
        return ("idle", None)
    # Load now, while the heap is compact, what this wake will need anyway: a module
    # dropped after use still leaves its names in the qstr pool, which grows in large
    # contiguous steps that a fragmented heap may not have.
    if rt.ub is not None:
        return _update_boot(rt)
    mod = getattr(rt, "role_module", None) or role(cf)    # (tests set rt.role_module)
    rt.pin_is_button = getattr(mod, "WAKE_PIN_IS_BUTTON", True)
    # watched from now: a press while the rest loads counts (a wake press's button is made
    # below, after the outbox, where the press wake's heap gate has it)
    if getattr(mod, "BUTTON_AT_BOOT", False) and not rt.woke_by_pin:
        rt.button
    import hello                        # noqa: F401  (link drops it after the hello)
    if not cf.enrolled():
        import enroll                   # noqa: F401  first boot (link drops it after)
    if rt.board.pin("battery_adc") is not None:
        import drivers.battery          # noqa: F401  heartbeats read the battery
    import outbox
    from link import Link
    from wifi import Wifi
    rt.outbox = outbox.Outbox(clock=rt.clock)
    # (A role whose wake pin is an interrupt line, not a person's button, says so: no driver.)
    if rt.woke_by_pin and rt.pin_is_button and rt.button is not None:
        # made now: the press that woke us (or came while we booted) counts
        log.i("button", "woke by pin" if rt.wake_reason in ("pin", "ext1") else "pressed while booting")
        if rt.board.pin("led") is not None:
            import drivers.led          # noqa: F401  the press is shown at once
        if rt.board.pin("buzzer") is not None:
            import drivers.buzzer       # noqa: F401
    _link(rt, Wifi, Link)
    rt._done = asyncio.Event()
    rt.spawn("watchdog", rt.watchdog)
    b = rt._drv.get("button")
    if b is not None:
        rt.link.on_news = b.nudge       # the role waits in b.get(): news wakes it at once
        rt.spawn("button", b.run)
    r = mod.setup(rt)
    rt.role = r if r is not None else mod
    # A role may make a wake quiet (rt.quiet = True in setup: a smart bin's sample): no
    # Wi-Fi and no hello unless it emits. Never with events or errors waiting, or unenrolled.
    if rt.outbox.pending() or rt.errors or not cf.enrolled():
        rt.quiet = False
    if not rt.quiet:
        if rt.wifi is not None:
            rt.spawn("wifi", rt.wifi.run)
        rt.spawn("link", rt.link.run)
    rt.spawn("role", rt.role.run)
    if rt.ota_boot:                     # the first boot after an update: its health gate
        import otagate
        otagate.start(rt)
    rt.spawn("sleep", rt._sleeper)
    return None


def _update_boot(rt):
    """An update boot's start (otaboot.py): the outbox, Wi-Fi, the link, the watchdog and the
    button (when the board's wake pin is a person's button), no role and no long-poll."""
    import hello                        # noqa: F401
    import outbox
    from link import Link
    from wifi import Wifi
    log.i("otaboot", "update boot for %s" % rt.ub["offer"].get("id"))
    rt.outbox = outbox.Outbox(clock=rt.clock)
    _link(rt, Wifi, Link)
    rt.link.polling = False
    rt._done = asyncio.Event()
    rt.spawn("watchdog", rt.watchdog)
    if rt.ub.get("btn") and rt.button is not None:      # (rt.button spawns its task)
        log.i("otaboot", "the button ends this update boot")
    if rt.wifi is not None:
        rt.spawn("wifi", rt.wifi.run)
    rt.spawn("link", rt.link.run)
    rt.spawn("update", rt._update_boot, False)
    return None


def _link(rt, Wifi, Link):
    """rt.wifi (when /config.json names a network) and rt.link to the fleet, over rt.outbox.
    (The classes come in loaded: each start loads its modules in the order that suits its heap.)"""
    w = rt.config.get("wifi")
    if isinstance(w, dict) and w.get("ssid"):
        c = rt.rtc.get("wifi")
        if not (isinstance(c, dict) and c.get("b")):
            import wifiscan             # noqa: F401  no cached access point: a scan follows
        rt.wifi = Wifi(w["ssid"], w.get("password", ""), rt.rtc, busy=rt.tokens)
    else:
        log.i("wifi", "no ssid configured: using the host network")
    rt.link = Link(rt.config, rt.outbox, rt.clock, rt.hello_body, rt.wifi,
                   rt.rtc, rt._on_command, rt._on_hello, rt.board_name, ssl=rt.tls)
