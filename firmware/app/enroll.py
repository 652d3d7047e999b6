# One-time enrollment (protocol v1.1 POST /api/v1/device/enroll): exchange the
# enroll_token from /config.json for a device id and secret, then rewrite
# /config.json without the token. Imported by link only when needed, then dropped.
import json
import binascii
import devproto
import log
from link import ProtoError


def hw_id():
    """12 lowercase hex digits: the Wi-Fi MAC, else machine.unique_id()."""
    try:
        import network
        mac = network.WLAN(network.STA_IF).config("mac")
        if mac:
            return binascii.hexlify(mac).decode()[:12]
    except Exception:
        pass
    try:
        import machine
        return binascii.hexlify(machine.unique_id()).decode()[:12]
    except Exception:
        return None


def save_identity(cfg, device_id, secret):
    """Keep id and secret in /config.json, drop the one-time token (atomic rewrite)."""
    import store
    ident = dict(cfg.ident or {})
    if "enroll_token" in ident:
        del ident["enroll_token"]
    ident["device_id"] = device_id
    ident["secret"] = secret
    store.write_json("/config.json", ident)
    cfg.ident = ident


async def enroll(link):
    cfg = link.cfg
    tok = cfg.get("enroll_token")
    if not tok:
        raise ProtoError(0, "no_identity", "no device_id/secret and no enroll_token")
    hid = (link.hwid or hw_id)()
    body = {"token": tok, "hw_id": hid or "000000000000",
            "role": cfg.get("role"), "board": link.board or cfg.get("board", "")}
    if cfg.get("site"):
        body["site"] = cfg.get("site")
    st, rh, data = await link.conn.request(
        "POST", link.base + devproto.PATH_ENROLL, {"Content-Type": "application/json"},
        json.dumps(body).encode(), link.timeout_ms)
    obj = link._parse(st, data)     # unsigned (no secret yet): its time is not believed
    dev = obj.get("device_id")
    sec = obj.get("secret")
    try:                                # 64 hex digits (unhexlify: no per-char strings)
        good = isinstance(dev, str) and len(binascii.unhexlify(sec)) == 32
    except (TypeError, ValueError):
        good = False
    if not good:
        raise ProtoError(st, "bad_response", "enroll answer lacks device_id/secret")
    save_identity(cfg, dev, sec)
    if isinstance(obj.get("config"), dict):
        cfg.apply(obj["config"], obj.get("config_version", 0))
    log.i("link", "enrolled device_id=%s hw_id=%s" % (dev, hid))
