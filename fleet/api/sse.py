"""Server-sent events from a live-hub subscription (fleet.live): reusable for any live view.

The stream starts with one `snapshot` event (the whole current state, taken after
subscribing so nothing falls between), then one event per published message, and a comment
every `keepalive_s` so proxies keep the connection open. It ends when the client goes away
(watched on the ASGI receive channel, so an idle stream does not linger) or the hub closes.
"""

import asyncio

import orjson
from starlette.responses import StreamingResponse


def format_event(kind, data, event_id=None):
    head = "id: %d\n" % event_id if event_id is not None else ""
    return (head + "event: %s\ndata: " % kind).encode() + orjson.dumps(data) + b"\n\n"


def sse_response(request, subscription, snapshot=None, keepalive_s=15.0):
    async def watch_disconnect():
        while (await request.receive())["type"] != "http.disconnect":
            pass
        subscription.close()

    async def stream():
        watcher = asyncio.ensure_future(watch_disconnect())
        try:
            if snapshot is not None:
                yield format_event("snapshot", snapshot)
            while True:
                try:
                    async with asyncio.timeout(keepalive_s):     # not wait_for: fleet/core/waiting.py
                        msg = await subscription.__anext__()
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                except StopAsyncIteration:
                    return
                yield format_event(msg["kind"], msg["data"], msg["id"])
        finally:
            watcher.cancel()
            subscription.close()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
