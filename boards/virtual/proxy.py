"""The network path between a virtual board and its fleet: a loopback TCP proxy per board.

The board's /config.json points its fleet_url at 127.0.0.1:<proxy port>; the proxy forwards to
the real fleet. The host cuts the path the way networks fail:
  - Wi-Fi down or the board not associated: connections are refused/reset at once (no route);
  - link down, mode "drop" (default): packets vanish - new connections are accepted but nothing
    comes back, open ones stall; when the link returns, stalled connections are reset;
  - link down, mode "reset": connections are reset at once (like a firewall sending RST).
It can also play a man in the middle on plain HTTP: with a tamper rule set, every response
body from the fleet has `find` replaced by `replace` (Content-Length fixed) on its way to the
board - what protocol v1.1's signed replies must defeat. Over TLS it can only pass bytes on.
"""

import asyncio
import re
import socket
from urllib.parse import urlsplit

from .console import abort_writer, serve_loopback


class FleetProxy:
    def __init__(self, name, path_state, note):
        self.name = name
        self.port = None
        self.target = None            # (host, port) of the real fleet
        self._path_state = path_state  # callable -> "ok" | "refuse" | "drop"
        self._note = note
        self._server = None
        self._entries = {}            # id -> [client writer, upstream writer, stalled]
        self.tamper = None            # (find bytes, replace bytes) applied to response bodies
        self.stats = {"connections": 0, "refused": 0, "dropped": 0, "bytes_up": 0, "bytes_down": 0,
                      "upstream_errors": 0, "tampered": 0}

    def set_target(self, url):
        if not url:
            self.target = None
            return
        u = urlsplit(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        self.target = (u.hostname or "127.0.0.1", port)

    async def start(self, port):
        self._server, self.port = await serve_loopback(self._accept, port)
        return self.port

    async def _accept(self, reader, writer):
        self.stats["connections"] += 1
        state = self._path_state()
        if state == "refuse" or self.target is None:
            self.stats["refused"] += 1
            abort_writer(writer)
            return
        entry = [writer, None, False]      # client, upstream, stalled
        self._entries[id(entry)] = entry
        try:
            if state == "drop":
                entry[2] = True
                self.stats["dropped"] += 1
                await self._discard(reader)
                return
            try:
                ur, uw = await asyncio.wait_for(asyncio.open_connection(*self.target), 10)
            except (OSError, asyncio.TimeoutError):
                self.stats["upstream_errors"] += 1
                abort_writer(writer)
                return
            entry[1] = uw
            for w in (writer, uw):
                try:
                    w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except (OSError, AttributeError):
                    pass
            down = self._tampering(ur, writer, entry) if self.tamper else self._pipe(ur, writer, entry, "bytes_down")
            await asyncio.gather(self._pipe(reader, uw, entry, "bytes_up"), down)
        finally:
            self._entries.pop(id(entry), None)
            for w in (entry[0], entry[1]):
                if w is not None:
                    try:
                        w.close()
                    except Exception:
                        pass

    async def _discard(self, reader):
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass

    async def _pipe(self, reader, writer, entry, counter):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if entry[2]:
                    continue                  # stalled: the network eats the packets
                self.stats[counter] += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            if not entry[2]:
                try:
                    if writer.can_write_eof():
                        writer.write_eof()
                except (OSError, RuntimeError):
                    pass

    async def _tampering(self, reader, writer, entry):
        """Responses one by one (head, then Content-Length bytes), bodies rewritten by the rule."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)\r$", head)
                body = await reader.readexactly(int(length.group(1))) if length else await reader.read()
                rule = self.tamper
                if rule and rule[0] in body:
                    body = body.replace(rule[0], rule[1])
                    self.stats["tampered"] += 1
                    if length:
                        head = head[:length.start(1)] + str(len(body)).encode() + head[length.end(1):]
                self.stats["bytes_down"] += len(head) + len(body)
                writer.write(head + body)
                await writer.drain()
                if not length:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            try:
                if writer.can_write_eof():
                    writer.write_eof()
            except (OSError, RuntimeError):
                pass

    def path_changed(self):
        """Apply a new path state to the open connections."""
        state = self._path_state()
        for entry in list(self._entries.values()):
            if state == "refuse":
                for w in (entry[0], entry[1]):
                    if w is not None:
                        abort_writer(w)
            elif state == "drop":
                entry[2] = True
            elif state == "ok" and entry[2]:
                for w in (entry[0], entry[1]):
                    if w is not None:
                        abort_writer(w)

    async def close(self):
        for entry in list(self._entries.values()):
            for w in (entry[0], entry[1]):
                if w is not None:
                    abort_writer(w)
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except (asyncio.TimeoutError, Exception):
                pass
            self._server = None
