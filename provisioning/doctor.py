"""`provision doctor`: everything that commonly stops a technician, checked, each problem with
its fix: serial ports and their bridges, permission, a port held by another program (brltty
included), the chip in download mode (chip, revision, flash, MAC), what the board carries
(MicroPython, our app version, enrolled or not), the fleet reachable, the API token valid, the
laptop's clock."""

import dataclasses
import email.utils
import json
import time

from . import errors, ports


@dataclasses.dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


def _fail(name, e):
    return Check(name, False, str(e), getattr(e, "fix", ""))


def check_ports(port=None):
    out = []
    found = ports.list_ports()
    if found:
        for p in found:
            out.append(Check("port %s" % p["device"], True, p["bridge"]))
            if (p["vid"], p["pid"]) in ports.BRLTTY_GRABS:
                try:
                    ports.check_device(p["device"])
                except errors.ProvisionError as e:
                    out.append(_fail("port %s" % p["device"], e))
    elif port is None:
        out.append(Check("serial ports", False, "no USB serial port found",
                         "Plug the board in with a data cable; `dmesg | tail` shows what the kernel saw."))
    if port is not None:
        try:
            ports.check(port)
            out.append(Check("port %s" % port, True, "can be opened"))
        except errors.ProvisionError as e:
            out.append(_fail("port %s" % port, e))
    return out


def check_board(port, baud=460800):
    """Connect in download mode and read what the chip and its flash say."""
    from boards import espimage
    from .flasher import Flasher
    out = []
    try:
        with Flasher(port, baud=baud, connect_attempts=2) as fl:
            f = fl.connect()
            out.append(Check("chip", True, "%s, %s, MAC %s, flash %d MB" % (f["description"], ", ".join(f["features"]),
                                                                           f["mac"], f["flash_size"] >> 20)))
            head = fl._run("read", lambda: fl.esp.read_flash(0x10000, 0x200))
            desc = None
            if head[:1] == bytes([espimage.MAGIC]) and len(head) >= 0x20 + espimage.APP_DESC.size:
                fields = espimage.APP_DESC.unpack_from(head, 0x20)
                if fields[0] == espimage.APP_DESC_MAGIC:
                    desc = (espimage._cstr(fields[4]), espimage._cstr(fields[3]))
            if desc:
                out.append(Check("firmware", True, "%s %s" % desc))
            else:
                out.append(Check("firmware", False, "no application image at 0x10000 (blank or erased board)",
                                 "Flash it: `provision flash --port %s --firmware ESP32_GENERIC-….bin`" % port))
            import esptool
            esptool.reset_chip(fl.esp, "hard-reset")
    except errors.ProvisionError as e:
        out.append(_fail("chip", e))
    return out


def check_app(port):
    """Our application on the board and whether it is enrolled (over the REPL)."""
    from .replsession import pulse_en, stop_app
    from mpremote.transport_serial import SerialTransport
    try:
        t = SerialTransport(port, baudrate=115200)
    except Exception as e:
        return [Check("application", False, str(e), errors.PortBusy.fix)]
    try:
        stop_app(t, timeout=15)
        t.enter_raw_repl(soft_reset=True)
        cfg = json.loads(t.fs_readfile("/config.json")) if t.fs_exists("/config.json") else {}
        ver = None
        for slot in ("a", "b"):
            if t.fs_exists("/app_%s/app.json" % slot):
                ver = json.loads(t.fs_readfile("/app_%s/app.json" % slot)).get("version")
                break
        t.exit_raw_repl()
        pulse_en(t.serial)
        out = [Check("application", ver is not None, "version %s" % ver if ver else "no application files",
                     "" if ver else "Run `provision flash` (or `provision deploy` on a developer board).")]
        if cfg.get("device_id"):
            out.append(Check("enrolled", True, "device %s (%s, site %s)" % (cfg["device_id"], cfg.get("role"),
                                                                          cfg.get("site") or "-")))
        else:
            out.append(Check("enrolled", False, "not enrolled yet" + (" (token in its config)" if
                                                                       cfg.get("enroll_token") else ""),
                             "`provision enroll --port %s …`; it enrolls when it reaches the fleet over Wi-Fi" % port))
        return out
    except errors.ProvisionError as e:
        return [_fail("application", e)]
    except Exception as e:
        return [Check("application", False, "cannot read the board's files: %s" % e,
                      "Press EN and run the command again.")]
    finally:
        try:
            t.close()
        except Exception:
            pass


def check_fleet(url, token):
    import httpx
    from .fleetapi import Fleet
    out = []
    try:
        with Fleet(url, token) as fleet:
            t0 = time.time()
            r = fleet._http.get("/api/v1/auth/me")
            t1 = time.time()
            if r.status_code in (401, 403):
                raise errors.FleetRefused("the fleet does not accept this API token")
            r.raise_for_status()
            me = r.json()
            out.append(Check("fleet", True, "%s reachable; you are %s (%s)" % (url, me.get("name") or me.get("username"),
                                                                            me.get("role"))))
            if me.get("role") not in ("technician", "admin"):
                out.append(Check("fleet role", False, "role %s cannot mint enrollment tokens" % me.get("role"),
                                 "Ask an admin for a technician account."))
            date = r.headers.get("date")
            if date:
                server = email.utils.parsedate_to_datetime(date).timestamp()
                skew = (t0 + t1) / 2 - server
                ok = abs(skew) < 60
                out.append(Check("clock", ok, "this laptop is %+.0f s from the fleet" % skew,
                                 "" if ok else "Set the laptop's clock (enable NTP: `timedatectl set-ntp true`)."))
    except errors.ProvisionError as e:
        out.append(_fail("fleet", e))
    except httpx.HTTPError as e:
        out.append(Check("fleet", False, str(e), errors.FleetUnreachable.fix))
    return out


def run(port=None, fleet_url=None, token=None, board=True, app=False, baud=460800):
    checks = check_ports(port)
    port_ok = port is not None and all(c.ok for c in checks if c.name == "port %s" % port)
    if port_ok and board:
        checks += check_board(port, baud)
        if app and all(c.ok for c in checks if c.name in ("chip", "firmware")):
            checks += check_app(port)
    if fleet_url:
        checks += check_fleet(fleet_url, token)
    return checks
