"""Live device status for the web list (and any tool): server-sent events.

Events: `snapshot` (all devices), `status` (a StatusChange), `seen` ({device id: last seen}),
`device` (a device's summary row after an enrollment, revoke or other change, or the fields a
hello changed: {"id", "fw", "app", "rssi"}).
"""

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from fleet.api.deps import require, runtime
from fleet.api.schemas import ERROR_RESPONSES
from fleet.api.sse import sse_response
from fleet.core import clock
from fleet.domain import devices

router = APIRouter(prefix="/api/v1/live", tags=["live"], responses=ERROR_RESPONSES)


def device_snapshot(rt):
    """Devices as the list shows them, with the in-memory last-seen times (fresher than the database)."""
    db = rt.connect()
    try:
        found = devices.list_devices(db, limit=100_000)
    finally:
        db.close()
    out = []
    for dev in found:
        live = rt.board.status(dev["id"])
        if live is not None:
            dev["status"] = live[0]
            dev["last_seen"] = clock.iso(live[1]) if live[1] else dev["last_seen"]
        out.append(devices.summary(dev))
    return out


@router.get("/devices", summary="Server-sent events: device status as it changes",
            responses={200: {"content": {"text/event-stream": {}}}})
async def device_stream(request: Request, rt=Depends(runtime), who=Depends(require("devices.read"))):
    subscription = rt.hub.subscribe("devices")
    snapshot = await run_in_threadpool(device_snapshot, rt)
    return sse_response(request, subscription, snapshot)
