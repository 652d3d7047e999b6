# Minimal HTTP/1.1 client on asyncio streams: keep-alive, a deadline on every
# request, optional TLS (ssl.SSLContext), bodies of at most MAX_BODY bytes framed by
# Content-Length (what the fleet sends) or by the connection closing. Chunked
# responses are refused: this client talks to the fleet, not to the web.
import asyncio

MAX_BODY = 16384


class HttpError(Exception):
    """Transport failure: connect, timeout, reset, malformed response."""

    def __init__(self, msg, reused=False):
        super().__init__(msg)
        self.reused = reused      # failed on a kept-alive connection before any reply


class Conn:
    def __init__(self, host, port, tls=False, ca=None):
        self.host = host
        self.port = port
        self.tls = tls
        self.ca = ca              # CA certificate (PEM or DER bytes) to verify the server
        self.r = self.w = None
        self.requests = 0         # answered on the current connection
        self.bytes_out = 0
        self.bytes_in = 0

    async def _connect(self):
        ctx = None
        if self.tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if self.ca:
                ctx.load_verify_locations(cadata=self.ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
            else:
                ctx.verify_mode = ssl.CERT_NONE
        self.r, self.w = await asyncio.open_connection(self.host, self.port, ssl=ctx)
        self.requests = 0

    def close(self):
        w = self.w
        self.r = self.w = None
        if w is not None:
            try:
                w.close()
            except Exception:
                pass

    async def request(self, method, path, headers, body=b"", timeout_ms=15000):
        """One request -> (status, {lower-case header: value}, body bytes)."""
        reused = self.requests > 0 and self.w is not None
        try:
            return await asyncio.wait_for_ms(self._request(method, path, headers, body), timeout_ms)
        except asyncio.TimeoutError:
            self.close()
            raise HttpError("timeout after %d ms" % timeout_ms)
        except HttpError:
            self.close()
            raise
        except (OSError, EOFError, ValueError, IndexError) as ex:
            self.close()
            raise HttpError("%s %s" % (type(ex).__name__, ex), reused)

    async def _request(self, method, path, headers, body):
        if self.w is None:
            await self._connect()
        reused = self.requests > 0
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n" % (
            method, path, self.host, len(body))
        for k in headers:
            head += "%s: %s\r\n" % (k, headers[k])
        head = (head + "\r\n").encode()
        # one write: head and body in two segments meet Nagle + delayed ACK (~40 ms)
        self.w.write(head + body if body else head)
        await self.w.drain()
        self.bytes_out += len(head) + len(body)
        r = self.r
        line = await r.readline()
        if not line:
            raise HttpError("connection closed", reused)
        self.requests += 1
        status = int(line.split(None, 2)[1])
        hdrs = {}
        n = len(line)
        while True:
            h = await r.readline()
            n += len(h)
            if len(h) <= 2:
                break
            i = h.find(b":")
            k = h[:i].strip().lower().decode()
            if k in ("content-length", "transfer-encoding", "connection", "x-server-time"):
                hdrs[k] = h[i + 1:].strip().decode().lower()
        if "transfer-encoding" in hdrs:
            raise HttpError("chunked response not supported")
        ln = int(hdrs.get("content-length", -1))
        if ln > MAX_BODY:
            raise HttpError("response body %d bytes too large" % ln)
        if ln >= 0:
            data = await r.readexactly(ln) if ln else b""
        else:
            data = await r.read(MAX_BODY)
            hdrs["connection"] = "close"
        self.bytes_in += n + len(data)
        if hdrs.get("connection") == "close":
            self.close()
        return status, hdrs, data
