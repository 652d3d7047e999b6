"""`provision`: a technician's commands, thin over the provisioning package's Python API.

Settings may come from the environment instead of options: PROVISION_FLEET (fleet URL),
PROVISION_TOKEN (the technician's API token), PROVISION_WIFI_SSID, PROVISION_WIFI_PASSWORD.
The Wi-Fi password is never printed, logged or sent to the fleet: it goes into the board only.
Every failure prints what happened and the fix, and exits with status 1.
"""

import sys
from pathlib import Path

import click

from . import errors

FLEET = click.option("--fleet", "fleet_url", envvar="PROVISION_FLEET", metavar="URL", help="Fleet URL (PROVISION_FLEET).")
TOKEN = click.option("--token", "api_token", envvar="PROVISION_TOKEN", metavar="ft_…",
                     help="Your API token for the fleet (PROVISION_TOKEN).")
PORT = click.option("--port", "-p", required=True, metavar="PORT",
                    help="Serial port: /dev/ttyUSB0, or rfc2217://host:port (a virtual board).")
BAUD = click.option("--baud", "-b", default=460800, show_default=True, type=int,
                    help="Serial speed for flashing (115200 on poor cables).")
BOARD = click.option("--board", default="esp32-devkitc", show_default=True, help="Board definition.")
ROLE = click.option("--role", type=click.Choice(["call_button", "smart_bin", "beacon"]), help="What the device is.")
SITE = click.option("--site", default=None, help="Where it is installed.")


def _fail(e):
    click.secho("error: %s" % e, fg="red", err=True)
    click.echo("  fix: %s" % e.fix, err=True)
    sys.exit(1)


def _fleet(url, token):
    from .fleetapi import Fleet
    if not url:
        return None
    return Fleet(url, token)


@click.group()
@click.version_option(package_name="district-devices")
def main():
    """Flash, enroll and label district devices (call buttons, smart bins, facility beacons)."""


@main.command()
@click.option("--port", "-p", default=None, metavar="PORT", help="Also check this port and the board on it.")
@FLEET
@TOKEN
@click.option("--app", is_flag=True, help="Also read the application's version and enrollment over the REPL.")
@BAUD
def doctor(port, fleet_url, api_token, app, baud):
    """Check ports, permissions, the board in download mode, the fleet and your token."""
    from . import doctor as doc
    checks = doc.run(port=port, fleet_url=fleet_url, token=api_token, app=app, baud=baud)
    bad = 0
    for c in checks:
        mark = click.style("ok  ", fg="green") if c.ok else click.style("FAIL", fg="red")
        click.echo("%s %-22s %s" % (mark, c.name, c.detail))
        if not c.ok:
            bad += 1
            if c.fix:
                click.echo("     fix: %s" % c.fix)
    if bad:
        sys.exit(1)


def _progress_callbacks(progress, task):
    def on_stage(name):
        progress.update(task, description=name)

    def on_progress(done, total):
        progress.update(task, completed=done, total=total)
    return on_stage, on_progress


@main.command()
@PORT
@click.option("--firmware", "-f", required=True, type=click.Path(dir_okay=False), help="MicroPython .bin for the board.")
@BOARD
@ROLE
@SITE
@FLEET
@TOKEN
@click.option("--wifi-ssid", envvar="PROVISION_WIFI_SSID", default=None, help="Wi-Fi network (PROVISION_WIFI_SSID).")
@click.option("--wifi-password", envvar="PROVISION_WIFI_PASSWORD", default=None,
              help="Wi-Fi password (PROVISION_WIFI_PASSWORD; never printed).")
@click.option("--enroll-token", default=None, help="Use this enrollment token instead of minting one.")
@click.option("--no-enroll", is_flag=True, help="Flash only: no token, no wait for the first hello.")
@click.option("--firmware-dir", default=None, type=click.Path(file_okay=False), help="Application tree (default firmware/).")
@click.option("--hello-timeout", default=120.0, show_default=True, help="Seconds to wait for the first hello.")
@BAUD
def flash(port, firmware, board, role, site, fleet_url, api_token, wifi_ssid, wifi_password, enroll_token, no_enroll,
          firmware_dir, hello_timeout, baud):
    """Flash MicroPython and the device's filesystem, verify, start it, enroll it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from .flow import FlashJob, flash_board, provision_board
    if not role:
        raise click.UsageError("--role is needed")
    if not fleet_url:
        raise click.UsageError("--fleet (or PROVISION_FLEET) is needed: the device's config names it")
    job = FlashJob(port=port, firmware=firmware, board=board, role=role, fleet_url=fleet_url, wifi_ssid=wifi_ssid,
                   wifi_password=wifi_password, site=site, enroll_token=enroll_token, baud=baud,
                   firmware_dir=firmware_dir)
    with Progress(TextColumn("[bold]%s" % port), TextColumn("{task.description:<8}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), transient=False) as progress:
        task = progress.add_task("connect", total=None)
        on_stage, on_progress = _progress_callbacks(progress, task)
        try:
            fleet = None if no_enroll else _fleet(fleet_url, api_token)
        except errors.ProvisionError as e:
            _fail(e)
        if fleet is None:
            res = flash_board(job, on_stage=on_stage, on_progress=on_progress)
        else:
            with fleet:
                res = provision_board(job, fleet, hello_timeout=hello_timeout, on_stage=on_stage,
                                      on_progress=on_progress)
        progress.update(task, description="done" if res.ok else "failed")
    _report(res)
    if not res.ok:
        sys.exit(1)


def _report(res):
    if res.mac:
        click.echo("board    %s  %s" % (res.mac, res.chip or ""))
    if res.firmware:
        click.echo("firmware %s" % res.firmware)
    if res.ok:
        click.echo("stages   %s" % ", ".join("%s %.1fs" % kv for kv in res.stages.items()))
        if res.device_id:
            click.secho("device   %s (enrolled, said hello)" % res.device_id, fg="green")
        else:
            click.secho("flashed and started", fg="green")
    else:
        click.secho("error: %s" % res.error, fg="red", err=True)
        click.echo("  fix: %s" % res.fix, err=True)


@main.command()
@PORT
@BOARD
@click.option("--firmware-dir", default=None, type=click.Path(file_okay=False), help="Application tree (default firmware/).")
@click.option("--dry-run", is_flag=True, help="Only list what would be copied.")
def deploy(port, board, firmware_dir, dry_run):
    """Copy changed application files to a running (or sleeping) board with mpremote, then reset it."""
    from .deploy import deploy as run
    try:
        out = run(port, board, firmware_dir=firmware_dir, dry_run=dry_run,
                  on_file=lambda p, n: click.echo("  %s (%d bytes)" % (p, n)))
    except errors.ProvisionError as e:
        _fail(e)
    click.echo("%s %d file(s), %d unchanged, %d bytes (slot %s)" % ("would copy" if dry_run else "copied",
                                                                  len(out["copied"]), len(out["unchanged"]),
                                                                  out["bytes"], out["slot"]))


@main.command()
@PORT
@BOARD
@ROLE
@SITE
@FLEET
@TOKEN
@click.option("--enroll-token", default=None, help="Use this enrollment token instead of minting one.")
@click.option("--force", is_flag=True, help="Enroll again a board that already has a device id.")
@click.option("--hello-timeout", default=120.0, show_default=True)
def enroll(port, board, role, site, fleet_url, api_token, enroll_token, force, hello_timeout):
    """Enroll a flashed board: token into its config, wait for its first hello, print its device id."""
    from .enroll import enroll as run
    if not role or not fleet_url:
        raise click.UsageError("--role and --fleet are needed")
    try:
        with _fleet(fleet_url, api_token) as fleet:
            dev = run(port, fleet, role, board, site, token=enroll_token, hello_timeout=hello_timeout, force=force)
    except errors.ProvisionError as e:
        _fail(e)
    click.secho("device %s (hw %s, %s, site %s) said hello" % (dev["id"], dev["hw_id"], dev["role"],
                                                                dev.get("site") or "-"), fg="green")


@main.command()
@click.option("--port", "-p", default=None, metavar="PORT", help="Over the USB serial port (Improv Serial).")
@click.option("--ble", "ble", default=None, metavar="ADDRESS", is_flag=False, flag_value="",
              help="Over Bluetooth: the board's address, or nothing for the first board in Wi-Fi setup mode.")
@click.option("--ble-backend", type=click.Choice(["system", "vboard"]), default="system", show_default=True,
              help="vboard: virtual boards' stand-in radio (boards/virtual/bleak_backend.py).")
@click.option("--wifi-ssid", envvar="PROVISION_WIFI_SSID", default=None, help="Wi-Fi network (PROVISION_WIFI_SSID).")
@click.option("--wifi-password", envvar="PROVISION_WIFI_PASSWORD", default=None,
              help="Wi-Fi password (PROVISION_WIFI_PASSWORD; never printed).")
@click.option("--wait-press", default=60.0, show_default=True,
              help="Bluetooth: seconds to wait for the press of the board's button it asks for.")
@click.option("--scan", is_flag=True, help="Only list the Wi-Fi networks the board sees (serial).")
def wifi(port, ble, ble_backend, wifi_ssid, wifi_password, wait_press, scan):
    """Set a board's Wi-Fi over Improv (USB serial or Bluetooth); the board tries it before it keeps it."""
    from . import improv
    if (port is None) == (ble is None):
        raise click.UsageError("give --port PORT or --ble [ADDRESS]")
    try:
        if scan:
            if port is None:
                raise click.UsageError("--scan works over --port")
            for ssid, rssi, secured in improv.scan_serial(port):
                click.echo("%-32s %4d dBm  %s" % (ssid, rssi, "password" if secured else "open"))
            return
        if not wifi_ssid:
            raise click.UsageError("--wifi-ssid (or PROVISION_WIFI_SSID) is needed")
        if port is not None:
            info = improv.wifi_serial(port, wifi_ssid, wifi_password or "")
        else:
            info = improv.wifi_ble(ble or None, wifi_ssid, wifi_password or "", backend=ble_backend,
                                   wait_press=wait_press,
                                   on_wait=lambda d: click.echo("press the button on the board%s (within %d s)"
                                                                % (" " + d[3] if d and len(d) > 3 else "",
                                                                   wait_press)))
    except errors.ProvisionError as e:
        _fail(e)
    who = "%s (%s %s)" % (info[3], info[0], info[1]) if info and len(info) > 3 else "the board"
    click.secho("Wi-Fi %s set on %s: it restarts and joins it" % (wifi_ssid, who), fg="green")


@main.command()
@click.argument("device_ids", nargs=-1)
@FLEET
@click.option("--asset", "assets", multiple=True, help="A facility asset's public code (its label is the asset's identity).")
@click.option("--from-results", type=click.Path(dir_okay=False), help="Label every device of a batch results CSV.")
@click.option("--out", "out_dir", default="labels", show_default=True, type=click.Path(file_okay=False))
@click.option("--grid", default="3x8", show_default=True, help="A4 label grid: 3x8, 4x10 or 2x7.")
def label(device_ids, fleet_url, assets, from_results, out_dir, grid):
    """QR labels: one SVG per device and a printable A4 PDF sheet."""
    from . import label as lab
    if not fleet_url:
        raise click.UsageError("--fleet (or PROVISION_FLEET) is needed: the codes link to it")
    labels = [lab.device_label(fleet_url, d) for d in device_ids]
    if from_results:
        import csv
        with open(from_results, newline="") as f:
            for r in csv.DictReader(f):
                if r.get("result") == "ok" and r.get("device_id"):
                    labels.append(lab.device_label(fleet_url, r["device_id"], r.get("role"), r.get("site"), r.get("mac")))
    try:
        labels += [lab.asset_label(fleet_url, a) for a in assets]
    except errors.ProvisionError as e:
        _fail(e)
    if not labels:
        raise click.UsageError("nothing to label: give device ids, --asset or --from-results")
    svgs = lab.write_svgs(labels, out_dir)
    pages = lab.pdf_sheet(labels, Path(out_dir) / "labels.pdf", grid)
    click.echo("%d label(s): %d SVG file(s) and %s (%d page(s))" % (len(labels), len(svgs),
                                                                    Path(out_dir) / "labels.pdf", pages))


@main.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--port", "-p", "ports", multiple=True, required=True, help="A port with a board on it (repeat).")
@click.option("--firmware", "-f", required=True, type=click.Path(dir_okay=False))
@FLEET
@TOKEN
@click.option("--wifi-ssid", envvar="PROVISION_WIFI_SSID", default=None)
@click.option("--wifi-password", envvar="PROVISION_WIFI_PASSWORD", default=None)
@click.option("--firmware-dir", default=None, type=click.Path(file_okay=False))
@click.option("--labels", "labels_dir", default=None, type=click.Path(file_okay=False), help="Also make labels here.")
@click.option("--hello-timeout", default=120.0, show_default=True)
@BAUD
def batch(plan, ports, firmware, fleet_url, api_token, wifi_ssid, wifi_password, firmware_dir, labels_dir,
          hello_timeout, baud):
    """Provision the devices of PLAN (CSV: role, site, board, wifi_ssid) on several ports at once."""
    from rich.progress import BarColumn, Progress, TextColumn
    from .batch import Batch, results_path
    if not fleet_url:
        raise click.UsageError("--fleet (or PROVISION_FLEET) is needed")
    try:
        fleet = _fleet(fleet_url, api_token)
    except errors.ProvisionError as e:
        _fail(e)
    with fleet, Progress(TextColumn("{task.fields[port]:<28}"), TextColumn("{task.description:<40}"), BarColumn(),
                         TextColumn("{task.percentage:>3.0f}%")) as progress:
        tasks = {p: progress.add_task("waiting", total=None, port=p) for p in ports}

        def on_event(port, kind, data):
            t = tasks[port]
            if kind == "start":
                progress.update(t, description="line %d: %s %s" % (data.line, data.role, data.site or ""), completed=0)
            elif kind == "stage":
                progress.update(t, description=data)
            elif kind == "progress":
                progress.update(t, completed=data[0], total=data[1])
            elif kind == "done":
                progress.update(t, description=("ok %s %s" % (data.mac, data.device_id or "")) if data.ok
                                else ("FAILED %s: %s" % (data.code, data.error))[:60])
        try:
            b = Batch(plan, ports, firmware, fleet, fleet_url, wifi_password=wifi_password, default_ssid=wifi_ssid,
                      baud=baud, firmware_dir=firmware_dir, hello_timeout=hello_timeout, on_event=on_event)
        except errors.ProvisionError as e:
            progress.stop()
            _fail(e)
        results = b.run()
    done = [r for r in results.values() if r["result"] == "ok"]
    failed = [r for r in results.values() if r["result"] != "ok"]
    for r in failed:
        click.secho("line %s: %s: %s" % (r["line"], r["code"], r["error"]), fg="red", err=True)
    left = len(b.todo())
    click.echo("%d done, %d failed, %d to do; results in %s" % (len(done), len(failed), left, results_path(plan)))
    if labels_dir and done:
        from . import label as lab
        labels = [lab.device_label(fleet_url, r["device_id"], r["role"], r["site"], r["mac"]) for r in done
                  if r["device_id"]]
        lab.write_svgs(labels, labels_dir)
        lab.pdf_sheet(labels, Path(labels_dir) / "labels.pdf")
        click.echo("labels in %s" % labels_dir)
    if left:
        sys.exit(1)


if __name__ == "__main__":
    main()
