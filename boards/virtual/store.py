"""Where virtual boards live on disk.

    $VBOARD_HOME/                 (default ./var/vboards)
      host.json                   the running host (daemon or in-process farm): pid, RPC port, token
      daemon.log                  the daemon's own log
      <name>/vboard.json          the board's record: definition, role, real fleet URL, ports, MAC, world
      <name>/flash/flash.bin      the board's flash chip: partition table, LittleFS in vfs (boards/flashimage.py)
      <name>/flash/flash.bin.wear its erase and program counters
      <name>/nvs.json             the board's NVS (esp32.NVS), kept apart from the filesystem
      <name>/console.log          everything the board printed, with timestamps
"""

import json
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path

from .errors import VBoardError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RECORD = "vboard.json"


def default_home():
    return Path(os.environ.get("VBOARD_HOME") or "var/vboards").expanduser()


def resolve_home(home=None):
    return Path(home).expanduser().resolve() if home is not None else default_home().resolve()


def check_name(name):
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise VBoardError("%r is not a valid board name: use letters, digits, '-', '_' or '.' (max 64)" % (name,))
    return name


def board_dir(home, name):
    return Path(home) / check_name(name)


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def new_mac():
    # Espressif OUI 24:0a:c4, random lower half (locally unique enough for a lab fleet)
    return "240ac4" + secrets.token_hex(3)


def list_names(home):
    home = Path(home)
    if not home.is_dir():
        return []
    return sorted(p.parent.name for p in home.glob("*/" + RECORD))


def exists(home, name):
    return (board_dir(home, name) / RECORD).is_file()


def load_record(home, name):
    path = board_dir(home, name) / RECORD
    if not path.is_file():
        known = list_names(home)
        raise VBoardError("no virtual board %r in %s%s; create it with `vboard create %s ...`"
                          % (name, home, " (boards: %s)" % ", ".join(known) if known else "", name))
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise VBoardError("board record %s is corrupt (%s); destroy and re-create the board" % (path, e))


def save_record(home, rec):
    d = board_dir(home, rec["name"])
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (RECORD + ".tmp")
    tmp.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, d / RECORD)


def new_record(name, board, role, fleet_url, mac=None, heapsize=None, heap_trace=None, blank=False,
               flash_size=None, auto_reset=None):
    return {
        "name": name,
        "board": board,
        "role": role,
        "created": time.time(),
        "fleet_url": fleet_url,
        "console_port": free_port(),
        "proxy_port": free_port(),
        "serial_port": free_port(),
        "blank": bool(blank),
        "flash_size": flash_size,
        "auto_reset": auto_reset,
        "mac": (mac or new_mac()).replace(":", "").lower(),
        "heapsize": heapsize,
        "heap_trace": heap_trace,
        "world": {},
        "link": {"up": True, "mode": "drop"},
        "wifi_up": True,
    }


def remove_board(home, name):
    d = board_dir(home, name)
    if d.exists():
        shutil.rmtree(d)


def read_nvs(home, name):
    p = board_dir(home, name) / "nvs.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}


def write_nvs(home, name, nvs):
    p = board_dir(home, name) / "nvs.json"
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(nvs, sort_keys=True))
    os.replace(tmp, p)


def host_file(home):
    return Path(home) / "host.json"


def read_host(home):
    try:
        return json.loads(host_file(home).read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
