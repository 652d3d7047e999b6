"""`vboard`: create, run, stimulate and watch virtual ESP32 boards from a shell.

Boards live in $VBOARD_HOME (default ./var/vboards). Commands that need running boards start a
background host daemon; `vboard stop --all` stops every board and the daemon.
"""

import json
import sys
import time

import click

from .. import list_boards, load_board
from ..catalog import BoardError
from . import store
from .api import BoardFarm
from .errors import HostNotRunning, VBoardError
from .world import WORLD, parse_value


def _farm(ctx, autostart=True):
    return BoardFarm.connect(ctx.obj["home"], autostart=autostart)


def _fail(e):
    raise click.ClickException(str(e))


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (VBoardError, BoardError) as e:
            _fail(e)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="VBOARD_HOME", default=None, metavar="DIR",
              help="Where boards live (env VBOARD_HOME, default ./var/vboards).")
@click.pass_context
def main(ctx, home):
    """Virtual ESP32 boards: the real MicroPython interpreter with ESP32 shims and a simulated
    world. Create a board, bring it up, press its button, watch its LED and console."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = str(store.resolve_home(home))


@main.command("boards")
def boards_cmd():
    """List the board definitions a virtual board can be created from."""
    for name in list_boards():
        b = load_board(name)
        click.echo("%-22s %-8s %s" % (name, b["chip"], b["title"]))


@main.command()
@click.argument("name")
@click.option("--role", default=None, type=click.Choice(["call_button", "smart_bin", "beacon"]))
@click.option("--board", "board", default="virtual", show_default=True, help="Board definition (see `vboard boards`).")
@click.option("--fleet", "fleet", default=None, metavar="URL", help="Fleet manager URL, e.g. http://127.0.0.1:8000")
@click.option("--token", default=None, help="One-time enrollment token for the board.")
@click.option("--wifi-ssid", default="district-lab", show_default=True)
@click.option("--wifi-password", default="lab-password", show_default=True)
@click.option("--site", default=None, help="Site the board belongs to.")
@click.option("--power", type=click.Choice(["battery", "mains"]), default=None,
              help="Power supply (default: battery for call buttons, mains otherwise); battery boards deep-sleep.")
@click.option("--firmware", "firmware", default=None, type=click.Path(file_okay=False),
              help="Firmware directory (default: the repository's firmware/).")
@click.option("--mac", default=None, help="Wi-Fi MAC (12 hex digits); random by default.")
@click.option("--heapsize", default=None, help="MicroPython heap, e.g. 128k (default: the interpreter's).")
@click.option("--force", is_flag=True, help="Replace a board of that name (its flash is erased).")
@click.option("--blank", is_flag=True, help="A new module: flash erased everywhere, to be flashed through its "
              "serial port (then --role and --fleet are not needed).")
@click.option("--flash-size", default=None, type=click.Choice(["1MB", "2MB", "4MB", "8MB", "16MB"]),
              help="A flash chip of another size than the definition's.")
@click.pass_context
def create(ctx, name, role, board, fleet, token, wifi_ssid, wifi_password, site, power, firmware, mac, heapsize,
           force, blank, flash_size):
    """Create board NAME: build its filesystem (firmware + board.json + config.json)."""
    size = int(flash_size[:-2]) << 20 if flash_size else None
    if blank:
        farm = _farm(ctx)
        farm.create(name, board=board, mac=mac, replace=force, heapsize=heapsize, blank=True, flash_size=size)
        info = farm.board(name).info()
        click.echo("created %s (%s, blank flash): hw_id %s, serial port %s" % (name, board, info["hw_id"],
                                                                             info["serial_url"]))
        return
    if not role or not fleet:
        raise click.UsageError("--role and --fleet are needed (or --blank for a board to flash)")
    config = {"role": role, "board": board, "fleet_url": fleet, "wifi": {"ssid": wifi_ssid, "password": wifi_password},
              "power": power or ("battery" if role == "call_button" else "mains")}
    if token:
        config["enroll_token"] = token
    if site:
        config["site"] = site
    farm = _farm(ctx)
    farm.create(name, board=board, role=role, config=config, firmware_dir=firmware, mac=mac, replace=force,
                heapsize=heapsize, flash_size=size)
    info = farm.board(name).info()
    click.echo("created %s (%s, %s): hw_id %s, console %s" % (name, board, role, info["hw_id"], info["console_url"]))
    click.echo("fleet %s reached through %s; start it with `vboard up %s`" % (fleet, info["proxy_url"], name))


@main.command(name="up")
@click.argument("names", nargs=-1, required=True)
@click.option("--wait", "wait_for", default=None, metavar="REGEX", help="Wait until each console shows REGEX.")
@click.option("--timeout", default=30.0, show_default=True)
@click.pass_context
def up(ctx, names, wait_for, timeout):
    """Power on boards (starts the background host if needed)."""
    farm = _farm(ctx)
    for name in names:
        b = farm.board(name)
        b.start()
        if wait_for:
            b.expect(wait_for, timeout=timeout)
        info = b.info()
        click.echo("%s: %s  console %s" % (name, info["state"], info["console_url"]))


main.add_command(click.Command("start", callback=up.callback, params=up.params, help="Same as `up`."))


def _led(info):
    led = info.get("led")
    if not led:
        return "-"
    if not led.get("driven"):
        return "off"
    if led.get("pwm"):
        return "%s (pwm %s%%)" % ("on" if led["on"] else "off", round(led.get("brightness", 0) * 100))
    return "on" if led["on"] else "off"


@main.command(name="list")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_cmd(ctx, name, as_json):
    """Show boards: state, console URL, LED (status NAME for details)."""
    farm = _farm(ctx, autostart=False)
    try:
        infos = farm.status() if name is None else [farm.board(name).info()]
    except HostNotRunning:
        infos = []
        for n in ([name] if name else store.list_names(ctx.obj["home"])):
            rec = store.load_record(ctx.obj["home"], n)
            infos.append({"name": n, "board": rec.get("board"), "role": rec.get("role"), "state": "off",
                          "console_url": None, "fleet_url": rec.get("fleet_url"), "led": None})
    if as_json:
        click.echo(json.dumps(infos, indent=2, default=str))
        return
    if name is not None:
        info = infos[0]
        for key in ("name", "board", "role", "state", "reset_cause", "wake_reason", "boots", "console_url",
                    "proxy_url", "fleet_url", "hw_id", "pid", "error"):
            if info.get(key) is not None:
                click.echo("%-12s %s" % (key, info[key]))
        click.echo("%-12s %s" % ("led", _led(info)))
        if info.get("buzzer"):
            click.echo("%-12s %s" % ("buzzer", "sounding %s Hz" % info["buzzer"]["pwm"]["freq"]
                                     if info["buzzer"].get("on") else "silent"))
        if info.get("wifi"):
            click.echo("%-12s ap %s, station %s, path to fleet %s"
                       % ("network", "up" if info["wifi"]["ap_up"] else "down", info["wifi"]["status"], info["path"]))
        if info.get("sleep"):
            s = info["sleep"]
            click.echo("%-12s %s" % ("sleep", "wakes in %.1f s" % s["wakes_in_s"] if s.get("wakes_in_s") is not None
                                     else "until a wake pin"))
        if info.get("world"):
            w = info["world"]
            click.echo("%-12s %s" % ("world", ", ".join("%s=%s" % (k, w[k]) for k in
                                                         ("distance_cm", "temp_c", "tilt_deg", "battery_v", "light"))))
        return
    if not infos:
        click.echo("no boards in %s; create one with `vboard create NAME --role ... --fleet URL`" % ctx.obj["home"])
        return
    click.echo("%-16s %-10s %-12s %-9s %-27s %s" % ("NAME", "STATE", "ROLE", "LED", "CONSOLE", "BOARD"))
    for i in infos:
        click.echo("%-16s %-10s %-12s %-9s %-27s %s" % (i["name"], i["state"], i.get("role") or "-", _led(i),
                                                       i.get("console_url") or "-", i.get("board")))


main.add_command(click.Command("status", callback=list_cmd.callback, params=list_cmd.params,
                               help="Same as `list`; with NAME, everything about that board."))


@main.command()
@click.argument("name")
@click.option("--ms", default=200, show_default=True, help="How long the button is held.")
@click.option("--bounces", default=0, help="Contact bounces before the press settles.")
@click.pass_context
def press(ctx, name, ms, bounces):
    """Press the board's button (wakes a board sleeping on its button)."""
    _farm(ctx, autostart=False).board(name).press(ms, bounces=bounces)
    click.echo("%s: button pressed for %d ms" % (name, ms))


@main.command()
@click.argument("name")
@click.pass_context
def hold(ctx, name):
    """Press and keep holding the button (until `vboard release`)."""
    _farm(ctx, autostart=False).board(name).hold()
    click.echo("%s: button held" % name)


@main.command()
@click.argument("name")
@click.pass_context
def release(ctx, name):
    """Release the button."""
    _farm(ctx, autostart=False).board(name).release()
    click.echo("%s: button released" % name)


@main.command(name="set", short_help="Change the simulated world (distance, temperature, tilt, battery, ...).", help="Change the simulated world, e.g. `vboard set bin-1 distance_cm=40 temp_c=65`. "
              "Keys: " + ", ".join(sorted(WORLD)) + " (see docs/virtual-board.md).")
@click.argument("name")
@click.argument("settings", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.pass_context
def set_cmd(ctx, name, settings):
    values = {}
    for s in settings:
        key, eq, value = s.partition("=")
        if not eq:
            raise click.BadParameter("%r is not KEY=VALUE" % s)
        values[key.strip()] = parse_value(key.strip(), value)
    farm = _farm(ctx)
    world = farm.board(name).set_world(**values)
    click.echo("%s: %s" % (name, ", ".join("%s=%s" % (k, world[k]) for k in values)))


@main.command()
@click.argument("name")
@click.argument("updown", type=click.Choice(["up", "down"]))
@click.pass_context
def wifi(ctx, name, updown):
    """Switch the board's Wi-Fi access point up or down."""
    _farm(ctx).board(name).wifi(updown == "up")
    click.echo("%s: access point %s" % (name, updown))


@main.command()
@click.argument("name")
@click.argument("updown", type=click.Choice(["up", "down"]))
@click.option("--mode", type=click.Choice(["drop", "reset"]), default=None,
              help="How a cut path fails: drop (packets vanish, default) or reset (connections refused).")
@click.pass_context
def link(ctx, name, updown, mode):
    """Cut or restore the network path between the board and the fleet."""
    _farm(ctx).board(name).link(updown == "up", mode)
    click.echo("%s: path to the fleet %s" % (name, "restored" if updown == "up" else "cut"))


@main.command()
@click.argument("name")
@click.argument("action", type=click.Choice(["cut", "on", "reset", "brownout"]))
@click.pass_context
def power(ctx, name, action):
    """Cut the power (at any instant), power on, press EN (reset), or brown the chip out."""
    b = _farm(ctx).board(name)
    if action == "cut":
        b.power_cut()
    elif action == "on":
        b.start()
    elif action == "brownout":
        b.brownout()
    else:
        b.reset()
    click.echo("%s: %s" % (name, b.info()["state"]))


@main.command()
@click.argument("name")
@click.pass_context
def wake(ctx, name):
    """Wake a board from timed deep sleep now (its clock jumps ahead by the skipped time)."""
    left = _farm(ctx, autostart=False).board(name).fast_forward()
    click.echo("%s: woke %.1f s early" % (name, left))


@main.command()
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("-n", "--lines", default=40, show_default=True, help="Lines to show first (0: all).")
@click.pass_context
def log(ctx, name, follow, lines):
    """Print the board's console log (timestamped; host notes start with '# [vboard]')."""
    path = store.board_dir(ctx.obj["home"], name) / "console.log"
    store.load_record(ctx.obj["home"], name)
    if not path.exists():
        click.echo("(%s has printed nothing yet)" % name)
        if not follow:
            return
        path.touch()
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.readlines()
        for line in (text[-lines:] if lines else text):
            click.echo(line, nl=False)
        if not follow:
            return
        try:
            while True:
                line = f.readline()
                if line:
                    click.echo(line, nl=False)
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            pass


@main.command()
@click.argument("name")
@click.pass_context
def console(ctx, name):
    """Show how to reach the board's serial console (REPL, raw REPL, mpremote)."""
    farm = _farm(ctx, autostart=False)
    info = farm.board(name).info()
    url = info["console_url"]
    if not url:
        raise click.ClickException("%s has no console yet; bring it up with `vboard up %s`" % (name, name))
    port = url.rsplit(":", 1)[1]
    click.echo(url)
    click.echo("  mpremote connect %s resume fs ls      # files, without resetting the board" % url)
    click.echo("  mpremote connect %s fs ls               # soft-resets into the raw REPL first, as on hardware" % url)
    click.echo("  mpremote connect %s repl                # interactive REPL (Ctrl-] leaves)" % url)
    click.echo("  python -m serial.tools.miniterm %s 115200 # plain terminal (Ctrl-] quits)" % url)
    click.echo("  nc 127.0.0.1 %s" % port)
    if info.get("serial_url"):
        click.echo("%s   # the USB serial port: RFC 2217 with the auto-reset circuit, paced at the baud rate" %
                   info["serial_url"])
        click.echo("  esptool --port %s flash-id                   # download mode, as on a DevKitC" %
                   info["serial_url"])


@main.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Stop every board and the background host.")
@click.pass_context
def stop(ctx, names, all_):
    """Power boards off (the same as a power cut)."""
    if not names and not all_:
        raise click.UsageError("name the boards to stop, or use --all")
    farm = _farm(ctx, autostart=False)
    try:
        if all_:
            stopped = farm.stop_all()
            farm.shutdown()
            click.echo("stopped %s; host stopped" % (", ".join(stopped) or "no running boards"))
            return
        for name in names:
            farm.board(name).power_cut()
            click.echo("%s: off" % name)
    except HostNotRunning:
        click.echo("no vboard host is running; every board is off")


@main.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
def destroy(ctx, name, yes):
    """Delete a board: its flash, NVS, record and console log."""
    store.load_record(ctx.obj["home"], name)
    if not yes and not click.confirm("delete virtual board %s and its flash?" % name):
        return
    farm = _farm(ctx, autostart=False)
    try:
        farm.call("destroy", name=name)
    except HostNotRunning:
        store.remove_board(ctx.obj["home"], name)
    click.echo("%s: destroyed" % name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
