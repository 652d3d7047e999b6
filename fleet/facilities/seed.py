"""A few assets for `fleet demo` (fleet/demo.py prints their public URLs): a citizen can scan -
or click - one, see it, report a problem and follow it."""

import devproto.assetcode as assetcode

from fleet.domain import users
from fleet.facilities import assets

DEMO_ASSETS = (
    {"type": "streetlight", "name": "Streetlight XL-0412", "address": "Xialu Road 12, north pavement", "area": "north",
     "maintainer": "Xialu District Lighting Office", "lat": 30.6151, "lon": 114.3012, "install_date": "2023-04-18"},
    {"type": "manhole_cover", "name": "Rainwater manhole RW-77", "address": "Xialu Road 7, crossing with Huashan Lane",
     "area": "north", "maintainer": "District Water Works", "lat": 30.6148, "lon": 114.3020,
     "install_date": "2019-08-15"},
    {"type": "bin", "name": "Recycling point 3", "address": "Huashan Lane 3", "area": "south",
     "maintainer": "District Sanitation", "lat": 30.6132, "lon": 114.3034, "install_date": "2024-01-09"},
)


def seed(db, base_url):
    """The demo assets (made once, kept after): [(type, name, public URL)]."""
    if db.conn.execute("SELECT count(*) FROM assets").fetchone()[0] == 0:
        for values in DEMO_ASSETS:
            assets.create_asset(db, users.Principal("cli", "demo", "admin"), dict(values))
    return [(r["type"], r["name"], assetcode.public_url(base_url, r["code"]))
            for r in assets.list_assets(db, limit=5)]
