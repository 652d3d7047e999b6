"""Serial ports as a technician meets them: which USB-UART bridge, may I open it, who holds it.

A port is a device path (/dev/ttyUSB0) or a pyserial URL (rfc2217://host:port, what a virtual
board or a remote serial server offers). Checks read the system, they do not open the port
for long: a port held by esptool or mpremote is named with the process holding it.
"""

import glob
import os
import socket
from pathlib import Path

from . import errors

# USB VID:PID of the bridges on ESP32 boards (pyserial's list_ports gives them)
BRIDGES = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x (DevKitC, DevKitM)",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232 (ESP-Prog)",
    (0x303A, 0x1001): "Espressif USB-Serial-JTAG (C3/S3 built-in)",
}
BRLTTY_GRABS = {(0x10C4, 0xEA60), (0x1A86, 0x7523)}     # brltty's udev rules claim these as braille displays


def is_url(port):
    return "://" in str(port)


def list_ports():
    """[{"device", "description", "vid", "pid", "bridge"}] of the USB serial ports found."""
    from serial.tools import list_ports as lp
    out = []
    for p in sorted(lp.comports(), key=lambda p: p.device):
        if p.vid is None:
            continue
        out.append({"device": p.device, "description": p.description, "vid": p.vid, "pid": p.pid,
                    "bridge": BRIDGES.get((p.vid, p.pid), "unknown USB serial bridge %04x:%04x" % (p.vid, p.pid))})
    return out


def holders(device):
    """[(pid, command)] of processes that have `device` open (a /proc scan, as fuser does)."""
    try:
        target = os.path.realpath(device)
    except OSError:
        return []
    found = []
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == target:
                pid = int(fd.split("/")[2])
                if pid != os.getpid() and all(pid != p for p, _ in found):
                    found.append((pid, _cmdline(pid)))
        except OSError:
            continue
    return found


def _cmdline(pid):
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _tcp_holder(host, port):
    """(pid, command) of a local process with a TCP connection to host:port, or None."""
    want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(host), "little"), port)
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[2] == want and f[3] == "01":                   # remote address, ESTABLISHED
            inodes.add(f[9])
    if not inodes:
        return None
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            pid = int(fd.split("/")[2])
            if pid != os.getpid():
                return pid, _cmdline(pid)
    return None


def check_url_port(url):
    """A remote serial port (rfc2217://host:port): reachable, and not held by another program."""
    rest = url.split("://", 1)[1]
    host, _, port = rest.rpartition(":")
    try:
        port = int(port.split("/")[0].split("?")[0])
        s = socket.create_connection((host, port), timeout=3)
    except (OSError, ValueError) as e:
        raise errors.PortNotFound("cannot reach serial port %s: %s" % (url, e),
                                  fix="Check the address; for a virtual board, `vboard console NAME` shows it.")
    try:
        s.settimeout(1.0)
        first = s.recv(200)
    except OSError:
        first = b""
    finally:
        s.close()
    if first.startswith(b"VBOARD-PORT-BUSY "):
        holder = None
        try:
            holder = _tcp_holder(host, port)
        except (OSError, ValueError):
            pass
        who = " by process %d (%s)" % holder if holder else ""
        raise errors.PortBusy("serial port %s is held%s" % (url, who))


def check_device(device):
    """A local serial device: exists, may be opened by this user, held by nobody else."""
    if not os.path.exists(device):
        raise errors.PortNotFound("no serial port %s" % device)
    if not os.access(device, os.R_OK | os.W_OK):
        raise errors.PortPermission("no permission to open %s" % device)
    held = holders(device)
    if held:
        pid, cmd = held[0]
        if "brltty" in cmd:
            raise errors.PortBusy("%s is grabbed by brltty (a braille display driver)" % device,
                                  fix="Remove brltty: `sudo apt remove brltty` (or disable its udev rules), "
                                      "then unplug and plug the board in again.")
        raise errors.PortBusy("%s is held by process %d (%s)" % (device, pid, cmd))


def check(port):
    """Raise the ProvisionError that says why `port` cannot be used, or return None."""
    if is_url(port):
        if str(port).startswith(("rfc2217://",)):
            check_url_port(port)
        return None
    check_device(port)
    return None


def classify_open_error(port, exc):
    """The ProvisionError for an exception from opening `port` (pyserial or esptool text)."""
    text = str(exc)
    low = text.lower()
    if "permission denied" in low:
        return errors.PortPermission("no permission to open %s" % port)
    if "could not exclusively lock" in low or "resource temporarily unavailable" in low or "busy" in low:
        try:
            check(port)
        except errors.ProvisionError as e:
            return e
        return errors.PortBusy("%s is held by another program" % port)
    if "no such file" in low or "errno 2" in low or "connection refused" in low:
        return errors.PortNotFound("no serial port %s (%s)" % (port, text.splitlines()[0]))
    return None
