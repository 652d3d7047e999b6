# Device protocol v1.1 client (docs/protocol.md): signed hello, event batches from the
# outbox (ack -> outbox removal), downlink handling, and nothing believed from a reply the
# fleet did not sign for the request (its signed time sets the clock). Two kept-alive HTTP
# connections: one for hello/events, one for the long-poll (poll.py), so an alarm
# never waits behind a held poll. run() never raises: outages are waited out with
# backoff (the mqtt_as lesson). Rare paths load on demand: enroll.py (first boot),
# hello.py (once per wake), linkx.py (failures, refused events), poll.py (long-poll
# while awake).
import os
import sys
import json
import asyncio
import time
import binascii
import devproto
import httpc
import log
from httpc import HttpError
from backoff import Backoff
from config import parse_url
from micropython import const

_IDLE_MS = const(30000)  # re-check the outbox at least this often when idle
# Waits (idle, backoff, wait_change, wait_acked) look every _TICK_MS for what they wait for:
# a sleeping task costs ~150 bytes, one in asyncio.wait_for on an Event ~900 (a second task
# and a runner coroutine, made anew by every wait), on the 64-bit unix port.
_TICK_MS = const(20)


class ProtoError(Exception):
    """The fleet answered with an error (or something that is not protocol v1)."""

    def __init__(self, status, code, message=""):
        super().__init__("%s (%d) %s" % (code, status, message))
        self.status = status
        self.code = code


class Link:
    def __init__(self, config, outbox, clock, hello_fn=None, net=None, rtc=None,
                 on_command=None, on_hello=None, board="", hwid=None, ssl=None):
        self.cfg = config
        self.ob = outbox
        self.clock = clock
        self.hello_fn = hello_fn      # () -> hello body dict
        self.net = net                # Wifi (isconnected, up event) or None: always up
        self.rtc = rtc
        self.on_command = on_command  # (cmd dict) -> None
        self.on_hello = on_hello      # (number of errors sent) -> None
        self.on_news = None           # () -> None: down changed or events acked (the
                                      # runtime wakes the role's wait: an answer shown at once)
        self.board = board
        self.hwid = hwid              # () -> 12 hex digits; default enroll.hw_id
        tls, host, port, self.base = parse_url(config.get("fleet_url", ""))
        if tls and ssl is None:         # (the runtime makes it first thing: startup.init)
            import connect              # the pinned CA, the clock floor, the SSLContext
            ssl = connect.setup(config, clock)
            sys.modules.pop("connect", None)
        ip = rtc.get("host") if rtc is not None else None   # [host, address] kept last time
        self.conn = httpc.Conn(host, port, tls, ssl, ip[1] if ip and ip[0] == host else None)
        self.pconn = None             # the long-poll's connection, made by poll.py
        self.timeout_ms = 15000       # one request, connect included
        self.online = False           # the last exchange with the fleet succeeded
        self.hello_ok = False         # hello succeeded during this boot
        self.need_hello = True
        self.polling = True           # the runtime may switch the long-poll off
        self.stopped = None           # error code that stops the link (revoked ...)
        self.last_error = None
        self.fail_t = None            # ticks of the first failure since the last success
        self.cursor = rtc.get("cur", 0) if rtc is not None else 0
        self.alarms = {}              # call buttons: alarm ref -> state, from down.alarms
        self.update = None            # down.update (OTA offer), kept for the OTA code
        self.beacon = None            # down.beacon (facility beacons), read by roles/beacon.py
        self.gen = 0                  # raised whenever something in "down" changed
        self.shown = None             # the gen the runtime's last tick showed its role (None: no runtime)
        self.batch_n = devproto.MAX_EVENTS
        self.batch_bytes = 4096
        self.sent = 0                 # events sent in requests that were acked
        self.kicked = False           # something to send: the sender looks at once
        self.hold = False             # an update boot's download runs: no connection beside it
        self.held = False             # the link sees hold: its connection closed, nothing sent
        self.busy = False             # an exchange with the fleet is under way

    # ---- API for the runtime and roles --------------------------------------------
    def kick(self):
        """Something to send: wake the sender now."""
        self.kicked = True

    async def pause(self):
        """Send nothing and hold no connection until resume() (an update boot's download:
        two TLS connections at once do not fit a small heap). Events emitted meanwhile wait
        in the outbox. Returns once the link is between exchanges with its connection closed."""
        self.hold = True
        await self._until(lambda: self.held, self.timeout_ms + 1000)

    def resume(self):
        self.hold = False
        self.kick()

    def settled(self):
        """Nothing left to do with the fleet right now."""
        return self.hello_ok and not self.need_hello and self.ob.pending() == 0

    def failing_ms(self):
        """How long the link has been failing (0 when the last exchange succeeded)."""
        if self.stopped:
            return 1 << 30
        if self.fail_t is None:
            return 0
        return time.ticks_diff(time.ticks_ms(), self.fail_t)

    async def wait_change(self, timeout_ms, since=None):
        """Wait until down changes (config, alarms, cursor) after generation `since`."""
        if since is None:
            since = self.gen
        return await self._until(lambda: self.gen != since, timeout_ms)

    async def wait_acked(self, seq, timeout_ms):
        """True once the fleet acknowledged event seq (stored it durably)."""
        return await self._until(lambda: self.ob.ack >= seq, timeout_ms, True)

    async def wait_settled(self, timeout_ms):
        """True once nothing is left to do with the fleet (settled())."""
        return await self._until(self.settled, timeout_ms)

    async def _until(self, done, timeout_ms, kick=False):
        t0 = time.ticks_ms()
        while not done():
            if time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
                return False
            if kick:
                self.kick()
            await asyncio.sleep_ms(_TICK_MS)
        return True

    # ---- requests ---------------------------------------------------------------
    def _parse(self, status, data):
        self.online = True                      # the fleet answered (maybe with an error)
        try:
            obj = json.loads(data) if data else None
        except ValueError:
            obj = None
        if 200 <= status < 300:
            if not isinstance(obj, dict):
                raise ProtoError(status, "bad_response", "body is not a JSON object")
            return obj
        err = obj.get("error") if isinstance(obj, dict) else None
        if isinstance(err, dict):
            raise ProtoError(status, str(err.get("code")), str(err.get("message", ""))[:120])
        raise ProtoError(status, "http_%d" % status)

    async def _signed(self, method, path, body=b"", conn=None, timeout_ms=None):
        if isinstance(body, str):
            body = body.encode()
        conn = conn or self.conn
        full = self.base + path
        cf = self.cfg
        key = binascii.unhexlify(cf.get("secret"))
        for attempt in range(3):
            nonce = binascii.hexlify(os.urandom(8)).decode()
            try:                                # (the headers: not kept here while the reply is awaited)
                st, rh, data = await conn.request(
                    method, full, devproto.signed_headers(cf.get("device_id"), cf.get("secret"), method, full,
                                                          self.clock.now(), nonce, body),
                    body, timeout_ms or self.timeout_ms)
            except HttpError as ex:
                if ex.reused and attempt == 0:
                    continue                    # the kept-alive connection had gone stale
                raise
            # v1.1: believe a reply only if the fleet signed it for this request, or anyone on
            # the path could make a call button show "answered". A refused reply counts as a
            # network failure (retried with backoff); a signed one's time sets the clock.
            t = rh.get("x-server-time")
            if t is None or rh.get("x-reply-signature") != devproto.reply_signature(key, nonce, st, t, data):
                await conn.close()
                raise HttpError("reply (%d) not signed for this request: refused" % st)
            self.clock.set(t)
            if conn.target != conn.host and self.rtc is not None:
                self.rtc.set("host", [conn.host, conn.target])  # resolve once per power-on
            try:
                return self._parse(st, data)
            except ProtoError as ex:
                if ex.code == "stale_timestamp" and attempt < 2:
                    log.w("link", "stale_timestamp: clock set from the signed reply, retrying")
                    continue
                if ex.code == "replay" and attempt < 2:
                    continue                    # a fresh nonce fixes it
                raise
        raise ProtoError(0, "retries_exhausted")

    async def enroll(self):
        import enroll                   # once in a device's life: not kept in RAM
        try:
            await enroll.enroll(self)
        finally:
            sys.modules.pop("enroll", None)

    async def hello(self):
        import hello                    # once per wake (and after a new error): not kept
        try:
            await hello.hello(self)
        finally:
            sys.modules.pop("hello", None)

    async def send_events(self):
        """Send the oldest pending events once; returns the number acked."""
        evs = self.ob.batch(self.batch_n, self.batch_bytes)
        if not evs:
            return 0
        body = b'{"stream":%d,"cv":%d,"events":[%s]}' % (
            self.ob.stream, self.cfg.cv, b",".join(evs))
        del evs[1:]
        first = self.ob.ack + 1
        try:
            obj = await self._signed("POST", devproto.PATH_EVENTS, body)
        except ProtoError as ex:
            import linkx
            return linkx.refused(self, ex, evs[0], first)
        del body
        ack = obj.get("ack")
        freed = self.ob.ack_to(ack) if isinstance(ack, int) else 0
        self.sent += freed
        self.batch_n = devproto.MAX_EVENTS
        self.batch_bytes = 4096
        log.i("link", "events acked ack=%s stored=%s dup=%s pending=%d" % (
            ack, obj.get("stored"), obj.get("duplicates"), self.ob.pending()))
        if freed and self.on_news is not None:
            self.on_news()
        self.down(obj.get("down"))
        if not freed:
            raise ProtoError(200, "no_progress", "ack stays at %s" % ack)
        return freed

    # ---- downlink ---------------------------------------------------------------
    def down(self, down):
        """Apply a response's "down" object (cursor, config, alarms, update, commands)."""
        if not isinstance(down, dict):
            return
        changed = False
        cur = down.get("cursor")
        if isinstance(cur, int) and cur != self.cursor:
            self.cursor = cur
            if self.rtc is not None:
                self.rtc.set("cur", cur)
            changed = True
        cfg = down.get("config")
        if isinstance(cfg, dict):
            if self.cfg.apply(cfg, down.get("config_version", self.cfg.cv)):
                changed = True
        al = down.get("alarms")
        if isinstance(al, dict) and al != self.alarms:
            self.alarms = al
            log.i("link", "alarms %s" % " ".join("%s=%s" % (k, al[k]) for k in al))
            changed = True
        self.update = down.get("update")
        b = down.get("beacon")               # a facility beacon's settings (roles/beacon.py)
        if b is not None and b != self.beacon:
            self.beacon = b
            changed = True
        cmds = down.get("commands")
        if isinstance(cmds, list) and self.on_command is not None:
            for c in cmds:
                if isinstance(c, dict):
                    self.on_command(c)
        if changed:
            self.gen += 1
            if self.on_news is not None:
                self.on_news()

    # ---- the task -----------------------------------------------------------------
    async def run(self):
        bo = Backoff(1000, 60000)
        while True:
            if self.hold:
                await self.conn.close()
                self.held = True
                while self.hold:
                    await asyncio.sleep_ms(_TICK_MS)
                self.held = False
            net = self.net
            if net is not None and not net.isconnected():
                await net.up.wait()
            ms = None
            self.kicked = False             # a kick from now on is seen by the wait below
            self.busy = True
            try:
                if not self.cfg.enrolled():
                    await self.enroll()
                if self.need_hello:
                    await self.hello()
                while self.ob.pending() and not self.need_hello and not self.hold:
                    await self.send_events()
                bo.reset()
                self.fail_t = None
                self.stopped = None
                if not self.ob.pending() and not self.need_hello:
                    ms = _IDLE_MS
            except (HttpError, ProtoError, OSError) as ex:
                import linkx
                ms = linkx.failed(self, ex, bo)
            finally:
                self.busy = False
            if ms is not None:              # idle: wait for a kick (or the time)
                t0 = time.ticks_ms()
                while not (self.kicked or self.hold) and time.ticks_diff(time.ticks_ms(), t0) < ms:
                    await asyncio.sleep_ms(_TICK_MS)
