"""A small publish/subscribe hub for live views (server-sent events).

Publishers call hub.publish(topic, kind, data) from any thread; each subscriber gets its own
bounded queue. A subscriber that cannot keep up is dropped (its stream ends; the browser's
EventSource reconnects and starts from a fresh snapshot) rather than slowing the fleet down.
Used for the device list now and meant for the alarm console later.
"""

import asyncio
import itertools
import logging

log = logging.getLogger("fleet.live")


class Subscription:
    def __init__(self, hub, topics, maxsize):
        self._hub = hub
        self.topics = frozenset(topics)
        self.queue = asyncio.Queue(maxsize)
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.closed and self.queue.empty():
            raise StopAsyncIteration
        item = await self.queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()

    def close(self):
        if not self.closed:
            self.closed = True
            self._hub._subs.discard(self)
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass


class Hub:
    def __init__(self):
        self._subs = set()
        self._loop = None
        self._ids = itertools.count(1)

    def attach(self, loop):
        self._loop = loop

    def subscribe(self, *topics, maxsize=1000):
        """async with hub.subscribe("devices") as sub: async for msg in sub: ..."""
        sub = Subscription(self, topics, maxsize)
        self._subs.add(sub)
        return sub

    def publish(self, topic, kind, data):
        """Send {"id", "topic", "kind", "data"} to every subscriber of topic. Safe from any thread."""
        if self._loop is None:
            return
        msg = {"id": next(self._ids), "topic": topic, "kind": kind, "data": data}
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._fan_out(msg)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._fan_out, msg)

    def _fan_out(self, msg):
        for sub in list(self._subs):
            if msg["topic"] not in sub.topics:
                continue
            try:
                sub.queue.put_nowait(msg)
            except asyncio.QueueFull:
                log.warning("live subscriber too slow, dropping it")
                while not sub.queue.empty():   # make room for the end marker
                    sub.queue.get_nowait()
                sub.close()

    def close(self):
        for sub in list(self._subs):
            sub.close()

    @property
    def subscribers(self):
        return len(self._subs)

    def listened(self, topic):
        """Is anyone subscribed to topic? (Skip building a message no one will read.)"""
        return any(topic in sub.topics for sub in self._subs)
