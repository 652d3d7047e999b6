"""What a facility beacon hears from the fleet: down.beacon (devproto/beacon.py), composed from
the asset it is attached to - its type, public URL (advertised as Eddystone-URL when it fits
17 bytes), id (Eddystone-UID), the site's position for the sunset/sunrise schedule.

Attaching a device to an asset, or editing the asset, raises the device's cursor
(changed_assets), so its next reply or its parked long-poll carries the new settings.
"""

import json

import devproto.assetcode as assetcode
import devproto.eddystone as eddystone

from fleet.domain.downlink import raise_cursors, register_downlink_provider

_public_url = [""]          # FLEET_PUBLIC_URL of the running server (set by the capability's service)


def settings_for(db, device):
    """Downlink provider `beacon` (role beacon): the attached asset's settings, or None."""
    found = db.conn.execute("SELECT id, code, type, lat, lon, beacon FROM assets WHERE device_id = ?",
                            (device.id,)).fetchone()
    if found is None:
        return None
    asset_id, code, kind, lat, lon, extra = found
    out = dict(json.loads(extra) if extra else {}, type=kind, uid=asset_id)
    if _public_url[0]:
        url = assetcode.public_url(_public_url[0], code)
        if fits(url):
            out["url"] = url
    if lat is not None and lon is not None:
        out["lat_e4"], out["lon_e4"] = int(round(lat * 10000)), int(round(lon * 10000))
    return out


def fits(url):
    """True when url can be advertised in an Eddystone-URL frame."""
    try:
        eddystone.encode_url(url)
        return True
    except ValueError:
        return False


def changed_assets(conn, *device_ids):
    """Inside the write transaction that changed these devices' assets."""
    ids = [d for d in device_ids if d]
    if ids:
        raise_cursors(conn, ids)
    return ids


register_downlink_provider("beacon", settings_for, roles=("beacon",))
