# The FakeFleet's test-only endpoints (/_fake/ctl, /_fake/state), called from MicroPython tests.
# Import after mptest.setup_root(), like the firmware modules it uses.
import os
import json
import httpc
import config
from mptest import eq

URL = os.getenv("FLEET_URL") or "http://127.0.0.1:8000"
_, HOST, PORT, _b = config.parse_url(URL)


async def fleet(path, body=None):
    """GET path, or POST body as JSON; the FakeFleet's decoded answer (it must be a 200)."""
    c = httpc.Conn(HOST, PORT)
    if body is None:
        st, _, data = await c.request("GET", path, {})
    else:
        st, _, data = await c.request("POST", path, {"Content-Type": "application/json"},
                                      json.dumps(body).encode())
    await c.close()
    eq(st, 200, data)
    return json.loads(data)
