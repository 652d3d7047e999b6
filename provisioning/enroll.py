"""Enrolling a board that already runs our firmware: a token minted for its role, board and site
goes into its /config.json over the REPL; after a reset the board enrolls itself with it and
says hello, and the fleet shows its device id. Wi-Fi credentials are not touched, not read
back, not sent anywhere."""

import json
import time

from . import errors
from .replsession import app_repl


def put_token(port, token, force=False, role=None):
    """Write the enrollment token into the board's config; returns (hw_id, config without secrets)."""
    with app_repl(port, "enrolling over %s" % port) as t:
        if not t.fs_exists("/config.json"):
            raise errors.ProvisionError("the board on %s has no /config.json: it was never provisioned" % port,
                                        fix="Run `provision flash` first.")
        cfg = json.loads(t.fs_readfile("/config.json"))
        if cfg.get("device_id") and not force:
            raise errors.ProvisionError("the board is already enrolled as %s" % cfg["device_id"],
                                        fix="Use --force to enroll it again (it keeps its device id, gets a new secret).")
        if role is not None and cfg.get("role") != role:
            raise errors.EnrollRefused("the board's firmware is set up as a %s, not a %s" % (cfg.get("role"), role),
                                       fix="Enroll it with --role %s, or flash it again for the other role."
                                       % cfg.get("role"))
        for k in ("device_id", "secret"):
            cfg.pop(k, None)
        cfg["enroll_token"] = token
        t.fs_writefile("/config.json", (json.dumps(cfg, sort_keys=True, separators=(",", ":")) + "\n").encode())
        hw = t.eval("__import__('binascii').hexlify(__import__('network').WLAN(0).config('mac')).decode()")
    safe = {k: v for k, v in cfg.items() if k not in ("wifi", "secret", "enroll_token")}
    return hw, safe


def enroll(port, fleet, role, board, site=None, token=None, hello_timeout=120.0, force=False):
    """Mint (or check the given token), put, wait: returns the device as the fleet shows it after
    its first hello."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    if token:
        fleet.check_token(token, role, board, site)
    else:
        token = fleet.mint_token(role, board, site)["token"]
    hw_id, _cfg = put_token(port, token, force=force, role=role)
    return fleet.wait_hello(hw_id, timeout=hello_timeout, since=started)
