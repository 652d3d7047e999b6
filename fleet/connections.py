"""Connections: time out silent and slow clients, cap how many are open, raise the file limit.

uvicorn times a connection out only while it idles *after* a response (keep-alive). One that
never sends a request, sends its headers a byte at a time, or stops in the middle of its body
is kept open forever; a few hundred of them use up the process's file limit and then no
device gets in at all. So each connection here (uvicorn's httptools protocol, plus):

- must complete a request's headers within `header_timeout_s` of opening (or of starting
  that request on a kept-alive connection), and its body within `body_timeout_s` of the
  headers; otherwise it is closed (a handler still reading the body sees a disconnect, and
  scope["fleet.timed_out"] says why);
- counts against `max_connections`. A new connection past the cap first closes the oldest
  *idle* one (no request in progress: silent, between keep-alive requests, or still sending
  headers), as nginx reuses its idle keep-alive connections; only when every connection is
  busy with a request is the newcomer answered 503 `busy` with Retry-After and closed.

max_connections 0 means "half the file limit, at most 4096": the other half is left for
SQLite (each connection holds the database, its WAL and shared memory), the thread pool's
connections, webhooks and logs. raise_file_limit() lifts the soft RLIMIT_NOFILE to the hard
limit at start, so the cap follows whatever the system allows.
"""

import collections
import logging
import resource
import time

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("fleet.connections")

MAX_AUTO_CONNECTIONS = 4096
BUSY_RETRY_AFTER_S = 5
TIMED_OUT = "fleet.timed_out"       # scope key: "body" when the body timeout closed the connection


def raise_file_limit():
    """Lift the soft open-files limit to the hard one; (soft before, soft now)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("open-files limit stays at %d: %s", soft, exc)
            return soft, soft
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connection_cap(setting, file_limit):
    if setting <= 0:
        return max(16, min(MAX_AUTO_CONNECTIONS, file_limit // 2))
    if setting > file_limit // 2:
        log.warning("FLEET_MAX_CONNECTIONS=%d leaves little of the open-files limit (%d) for the database: "
                    "raise the limit (ulimit -n, systemd LimitNOFILE=) or lower the setting", setting, file_limit)
    return setting


def _busy_answer():
    body = orjson.dumps({"error": {"code": "busy", "message": "server busy: too many open connections; "
                                                              "retry in %d s" % BUSY_RETRY_AFTER_S}})
    return (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: %d\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n" % (BUSY_RETRY_AFTER_S, len(body))) + body


class ConnectionGuard:
    """The open connections of one server, oldest activity first, and what was done to them."""

    def __init__(self, max_connections, header_timeout_s, body_timeout_s):
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.open = collections.OrderedDict()        # protocol -> None, least recently active first
        self.closed = collections.Counter()          # reason -> count: header_timeout, body_timeout, shed, refused
        self._last_warning = 0.0

    def admit(self, protocol):
        """Room for one more: True if `protocol` may stay (after shedding an idle one if needed)."""
        if len(self.open) >= self.max_connections:
            victim = next((p for p in self.open if not p.busy), None)
            if victim is None:
                self._count("refused")
                return False
            self._count("shed")
            victim.close()
        self.open[protocol] = None
        return True

    def active(self, protocol):
        if protocol in self.open:
            self.open.move_to_end(protocol)

    def forget(self, protocol):
        self.open.pop(protocol, None)

    def _count(self, reason):
        self.closed[reason] += 1
        now = time.monotonic()
        if reason in ("shed", "refused") and now - self._last_warning > 10:
            self._last_warning = now
            log.warning("connection limit (%d) reached: %d idle connections closed, %d new ones refused so far "
                        "(FLEET_MAX_CONNECTIONS, docs/operations.md)", self.max_connections,
                        self.closed["shed"], self.closed["refused"])

    def timed_out(self, reason):
        self.closed[reason] += 1


def guarded_protocol(guard):
    """uvicorn's httptools protocol class, with `guard`'s limits (pass it as uvicorn.Config(http=...))."""

    class GuardedHttpProtocol(HttpToolsProtocol):
        busy = False            # a request's headers are in and its response is not finished
        refused = False
        _timer = None

        def connection_made(self, transport):
            if not guard.admit(self):
                self.refused = True
                transport.write(_busy_answer())
                transport.close()
                return
            super().connection_made(transport)
            self._arm(guard.header_timeout_s, "header_timeout")

        def connection_lost(self, exc):
            guard.forget(self)
            self._disarm()
            if not self.refused:
                super().connection_lost(exc)

        def data_received(self, data):
            if not self.refused:
                super().data_received(data)

        def on_message_begin(self):
            super().on_message_begin()
            guard.active(self)
            if self._timer is None:
                self._arm(guard.header_timeout_s, "header_timeout")

        def on_headers_complete(self):
            self.busy = True
            self._arm(guard.body_timeout_s, "body_timeout")
            super().on_headers_complete()

        def on_message_complete(self):
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self):
            self.busy = False
            guard.active(self)
            super().on_response_complete()

        def close(self):
            """Close at once (shed by the guard, or timed out)."""
            self._disarm()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()

        def _arm(self, seconds, reason):
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._expire, reason)

        def _disarm(self):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expire(self, reason):
            self._timer = None
            guard.timed_out(reason)
            if reason == "body_timeout" and self.cycle is not None:
                self.cycle.scope[TIMED_OUT] = "body"
            log.debug("closing connection from %s: %s", self.client and self.client[0], reason)
            self.close()

    return GuardedHttpProtocol
