# Minimal HTTP/1.1 client on asyncio streams: keep-alive, a deadline on every
# request, TLS that verifies the server (a CA certificate is required; only ca=b"", from
# config "tls_insecure", connects without checking), bodies of at most
# 16 KB framed by Content-Length (what the fleet sends) or by the connection closing.
# Chunked responses are refused: this client talks to the fleet, not to the web.
# A connection to a known address is opened here (TLS verified by the shared SSLContext);
# connect.py resolves a host name off the asyncio loop first, the address then kept (a DNS
# outage must not freeze a call button's light and tone).
# A request is copied into one buffer shared by every connection and written with one
# write (head and body in two segments meet Nagle + delayed ACK, ~40 ms): sending
# allocates nothing large, so a fragmented heap does not fail it.
import sys
import asyncio
from micropython import const

_MAX_BODY = const(16384)
_BUF = const(640)       # a hello or an event batch fits; a bigger request is two writes
_buf = memoryview(bytearray(_BUF))   # made at import, while the heap is still compact


class HttpError(Exception):
    """Transport failure: connect, timeout, reset, malformed response."""
    reused = False      # failed on a kept-alive connection before any reply


class Conn:
    def __init__(self, host, port, tls=False, ssl=None, target=None):
        self.host = host
        self.port = port
        self.tls = tls
        # TLS: the SSLContext (connect.setup) that verifies the server against the pinned CA,
        # shared with the twin connection; None: no CA, no connection
        self.ssl = ssl
        # the address connections go to: the host's once resolved (a literal is its own)
        self.target = target or (host if host.replace(".", "").isdigit() or ":" in host else None)
        self.failed = 0           # fresh connections that failed in a row (re-resolve at 3)
        self.r = self.w = None
        self.requests = 0         # answered on the current connection

    async def close(self):
        """Close the socket: MicroPython's Stream.close() frees nothing, wait_closed() does."""
        w = self.w
        self.r = self.w = None
        if w is not None:
            try:
                w.close()
                await w.wait_closed()
            except Exception:
                pass

    async def request(self, method, path, headers, body=b"", timeout_ms=15000, stream=False):
        """One request -> (status, {lower-case header: value}, body bytes). With stream, the
        body is left in self.r for the caller (OTA downloads: any length, read in chunks)."""
        reused = self.requests > 0 and self.w is not None
        co = self._request(method, path, headers, body, stream)
        headers = body = None           # (the request holds them only until they are written)
        try:
            return await asyncio.wait_for_ms(co, timeout_ms)
        except asyncio.TimeoutError:
            ex = HttpError("timeout after %d ms" % timeout_ms)
        except HttpError as e:
            ex = e
        except (OSError, EOFError, ValueError, IndexError) as e:
            # ValueError: also what mbedTLS raises for a certificate it refuses
            ex = HttpError("%s %s" % (type(e).__name__, e))
            ex.reused = reused
        if not reused and self.requests == 0:
            self.failed += 1          # connect.py asks DNS again after 3
        await self.close()
        raise ex

    async def _request(self, method, path, headers, body, stream=False):
        if self.w is None:
            if self.target is None or (self.tls and self.ssl is None) or (
                    self.failed >= 3 and self.target != self.host):
                import connect        # a name to resolve (again), or no CA: loaded while needed
                try:
                    self.r, self.w = await connect.open_connection(self)
                finally:
                    sys.modules.pop("connect", None)
            else:                     # the address known: TLS verified by the shared SSLContext, or plain
                self.r, self.w = await asyncio.open_connection(
                    self.target, self.port, ssl=self.ssl if self.tls else None,
                    server_hostname=self.host if self.tls else None)
            self.requests = 0
        reused = self.requests > 0
        if isinstance(body, str):
            body = body.encode()
        w = self.w
        mv = _buf                   # filled and written with no await in between
        head = ["%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n" % (
            method, path, self.host, len(body))]
        for k in headers:
            head.append("%s: %s\r\n" % (k, headers[k]))
        head.append("\r\n")
        n = 0
        for s in head:
            s = s.encode()
            if n + len(s) > _BUF:   # a head this long: written in pieces
                w.write(mv[:n])
                n = 0
            mv[n:n + len(s)] = s
            n += len(s)
        if n + len(body) <= _BUF:
            mv[n:n + len(body)] = body
            n += len(body)
            body = None
        w.write(mv[:n])
        if body:
            w.write(body)           # too big for the buffer: a second segment
        # written: nothing of the request stays alive while the reply is awaited (a long-poll
        # waits 25 s; its head, headers and body would hold ~1.5 KB all that time)
        head = headers = body = s = None
        await w.drain()
        r = self.r
        line = await r.readline()
        if not line:
            ex = HttpError("connection closed")
            ex.reused = reused
            raise ex
        self.requests += 1
        self.failed = 0
        status = int(line.split(None, 2)[1])
        hdrs = {}
        while True:
            h = await r.readline()
            if len(h) <= 2:
                break
            i = h.find(b":")
            k = h[:i].strip().lower().decode()
            # kept: values as sent (a reply signature is compared exactly)
            if k in ("content-length", "transfer-encoding", "connection", "x-server-time",
                     "x-reply-signature", "content-range"):
                hdrs[k] = h[i + 1:].strip().decode()
        if "transfer-encoding" in hdrs:
            raise HttpError("chunked response not supported")
        ln = int(hdrs.get("content-length", -1))
        if stream:
            return status, hdrs, None
        if ln > _MAX_BODY:
            raise HttpError("response body %d bytes too large" % ln)
        if ln >= 0:
            data = await r.readexactly(ln) if ln else b""
        else:
            data = await r.read(_MAX_BODY)
            hdrs["connection"] = "close"
        if hdrs.get("connection", "").lower() == "close":
            await self.close()
        return status, hdrs, data
