# Long-poll (GET /api/v1/device/poll): keeps `down` fresh while the device is awake
# and polling is wanted (mains-powered roles, or a role holding the device awake, e.g.
# a call button waiting for a caregiver's answer). Loaded when first needed.
import asyncio
import time
import devproto
import log
from backoff import Backoff
import httpc
from httpc import HttpError
from link import ProtoError
from micropython import const

_AFTER_NEWS_MS = const(150)     # > the runtime's 100 ms tick, in which the role shows news
_TICK_WAIT_MS = const(1000)     # ... and up to this much more until that tick has run (a busy CPU)


async def run(link):
    bo = Backoff(2000, 60000)
    if link.pconn is None:
        c = link.conn
        link.pconn = httpc.Conn(c.host, c.port, c.tls, c.ssl, c.target)   # one SSLContext for both
    while True:
        if not (link.hello_ok and link.polling and not link.stopped):
            await asyncio.sleep_ms(200)
            continue
        wait = link.cfg.dev.get("poll_wait_s", 25)
        path = "%s?cursor=%d&wait=%d&cv=%d" % (devproto.PATH_POLL, link.cursor, wait, link.cfg.cv)
        t0 = time.ticks_ms()
        c0 = link.cursor
        try:
            obj = await link._signed("GET", path, b"", link.pconn, (wait + 10) * 1000)
            link.down(obj.get("down"))
            bo.reset()
            # After news, poll again soon (a caregiver's answer often follows "received"
            # closely), once the role had its tick to show the news (link.shown: the runtime
            # says so, later than 150 ms on a busy CPU): the next request's coroutines and
            # buffers not beside that (a press wake ran out of heap there).
            # Never spin on a fleet that answers at once without news.
            if link.cursor != c0:
                await asyncio.sleep_ms(_AFTER_NEWS_MS)
                g = link.gen
                await link._until(lambda: link.shown is None or link.shown >= g, _TICK_WAIT_MS)
            elif time.ticks_diff(time.ticks_ms(), t0) < 500:
                await asyncio.sleep_ms(500)
        except (HttpError, ProtoError, OSError) as ex:
            if not isinstance(ex, ProtoError):
                link.online = False
            d = bo.next()
            log.w("link", "poll failed (%s), retry in %d ms" % (getattr(ex, "code", None) or ex, d))
            await asyncio.sleep_ms(d)
