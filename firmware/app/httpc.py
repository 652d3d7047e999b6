# Minimal HTTP/1.1 client on asyncio streams: keep-alive, a deadline on every
# request, TLS that verifies the server (a CA certificate is required; only an explicit
# insecure=True, from config "tls_insecure", connects without checking), bodies of at most
# 16 KB framed by Content-Length (what the fleet sends) or by the connection closing.
# Chunked responses are refused: this client talks to the fleet, not to the web.
# Host names are resolved off the asyncio loop (resolve.py) and the address is kept:
# a DNS outage must not freeze a call button's light and tone.
# A request is copied into one buffer shared by every connection and written with one
# write (head and body in two segments meet Nagle + delayed ACK, ~40 ms): sending
# allocates nothing large, so a fragmented heap does not fail it.
import asyncio
from micropython import const

_MAX_BODY = const(16384)
_BUF = const(640)       # a hello or an event batch fits; a bigger request is two writes
_buf = memoryview(bytearray(_BUF))   # made at import, while the heap is still compact
# Response headers kept (names lower case, values as sent: a signature is compared exactly).
_KEEP = ("content-length", "transfer-encoding", "connection", "x-server-time", "x-reply-signature")


class HttpError(Exception):
    """Transport failure: connect, timeout, reset, malformed response."""
    reused = False      # failed on a kept-alive connection before any reply


class Conn:
    def __init__(self, host, port, tls=False, ca=None, insecure=False, ip=None):
        self.host = host
        self.port = port
        self.tls = tls
        self.ca = ca              # CA certificate (PEM or DER bytes) to verify the server
        self.insecure = insecure  # TLS without verification: only when config says so
        self.ip = ip              # the host's address once resolved (an IP host is its own)
        self.failed = 0           # fresh connections that failed in a row (re-resolve at 3)
        self.r = self.w = None
        self.requests = 0         # answered on the current connection

    def twin(self):
        """Another connection to the same server (the long-poll's own)."""
        return Conn(self.host, self.port, self.tls, self.ca, self.insecure, self.ip)

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

    def _context(self):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca:
            ctx.load_verify_locations(cadata=self.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        elif self.insecure:
            ctx.verify_mode = ssl.CERT_NONE
        else:
            raise HttpError("https without a CA certificate: not connecting unverified")
        return ctx

    async def _open(self):
        if self.ip is None:
            import resolve
            self.ip = await resolve.resolve(self.host, self.port)
        if self.tls:
            self.r, self.w = await asyncio.open_connection(
                self.ip, self.port, ssl=self._context(), server_hostname=self.host)
        else:
            self.r, self.w = await asyncio.open_connection(self.ip, self.port)
        self.requests = 0

    def _fresh_failed(self):
        # The server may have moved: after 3 failed connections ask DNS again.
        self.failed += 1
        if self.failed >= 3 and self.ip != self.host:
            self.ip = None
            self.failed = 0

    async def request(self, method, path, headers, body=b"", timeout_ms=15000):
        """One request -> (status, {lower-case header: value}, body bytes)."""
        reused = self.requests > 0 and self.w is not None
        try:
            return await asyncio.wait_for_ms(self._request(method, path, headers, body), timeout_ms)
        except asyncio.TimeoutError:
            ex = HttpError("timeout after %d ms" % timeout_ms)
        except HttpError as e:
            ex = e
        except (OSError, EOFError, ValueError, IndexError) as e:
            # ValueError: also what mbedTLS raises for a certificate it refuses
            ex = HttpError("%s %s" % (type(e).__name__, e))
            ex.reused = reused
        if not reused and self.requests == 0:
            self._fresh_failed()
        await self.close()
        raise ex

    async def _request(self, method, path, headers, body):
        if self.w is None:
            await self._open()
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
            if k in _KEEP:
                hdrs[k] = h[i + 1:].strip().decode()
        if "transfer-encoding" in hdrs:
            raise HttpError("chunked response not supported")
        ln = int(hdrs.get("content-length", -1))
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
