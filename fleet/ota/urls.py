"""Short-lived signed download URLs (docs/protocol.md "OTA"): the query names the device and an
expiry and carries an HMAC-SHA256 under the URL secret, so the fleet - or a static mirror that
holds the secret - serves a file to whoever the fleet offered it to, for a while, without a device
signature on every ranged GET.

    <base>/<name>?d=<device id>&e=<unix expiry>&s=<hex HMAC-SHA256 of "<name>\\n<device id>\\n<expiry>">

<name> is the file's name: the artifact's (`app-0.2.0.edc5610267f5.bin`) or the manifest's
(`app-0.2.0.manifest.json`). <base> is the fleet's PREFIX (a path the device resolves against its
fleet URL) or the mirror's URL (FLEET_OTA_MIRROR_URL), which serves the release folder's files.
A mirror checks a request with check(secret, name, query) - or its own code doing the same HMAC.
"""

import hashlib
import hmac
import time
from urllib.parse import urlencode

PREFIX = "/ota/dl"
BUCKET_S = 60           # expiries are rounded: a device's cached offer does not change every second


def secret_for(settings):
    """The URL secret: FLEET_OTA_URL_SECRET, else derived from the fleet's key file (stable across
    restarts, never stored in the database)."""
    if settings.ota_url_secret:
        return settings.ota_url_secret.encode()
    key = settings.key_path.read_bytes() if settings.key_path.is_file() else b""
    return hmac.new(key, b"fleet ota download urls", hashlib.sha256).digest()


def _mac(secret, name, device_id, expires):
    return hmac.new(secret, ("%s\n%s\n%d" % (name, device_id, expires)).encode(), hashlib.sha256).hexdigest()


def signed(secret, base, name, device_id, ttl_s, now=None):
    """The URL of file `name` under `base` for device_id, valid for about ttl_s."""
    expires = int((now or time.time()) + ttl_s)
    expires += BUCKET_S - expires % BUCKET_S
    q = urlencode({"d": device_id, "e": expires, "s": _mac(secret, name, device_id, expires)})
    return "%s/%s?%s" % (base.rstrip("/"), name, q)


def check(secret, name, params, now=None):
    """The device id the query was signed for, or None if it is wrong or expired."""
    try:
        device_id, expires, mac = str(params["d"]), int(params["e"]), str(params["s"])
    except (KeyError, ValueError, TypeError):
        return None
    if expires < (now or time.time()):
        return None
    if not hmac.compare_digest(mac, _mac(secret, name, device_id, expires)):
        return None
    return device_id
