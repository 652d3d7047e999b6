# Minimal HTTP/1.1 client on asyncio streams: keep-alive, Content-Length or chunked
# bodies, a deadline on every request, optional TLS (ssl.SSLContext). Small buffers:
# bodies are limited to max_body bytes and read with readexactly.
import asyncio

MAX_BODY = 16384


class HttpError(Exception):
    """Transport failure: connect, timeout, reset, malformed response."""

    def __init__(self, msg, reused=False):
        super().__init__(msg)
        self.reused = reused      # failed on a kept-alive connection before any reply


class Conn:
    def __init__(self, host, port, tls=False, ca=None, name="http"):
        self.host = host
        self.port = port
        self.tls = tls
        self.ca = ca              # CA certificate bytes (PEM or DER) to verify the server
        self.name = name
        self.r = None
        self.w = None
        self.requests = 0         # on the current connection
        self.bytes_out = 0
        self.bytes_in = 0

    def _ctx(self):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca:
            ctx.load_verify_locations(cadata=self.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        else:
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def _connect(self):
        ssl = self._ctx() if self.tls else None
        self.r, self.w = await asyncio.open_connection(self.host, self.port, ssl=ssl)
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
        """Send one request; return (status, headers dict with lower-case names, body bytes)."""
        try:
            return await asyncio.wait_for_ms(self._request(method, path, headers, body), timeout_ms)
        except asyncio.TimeoutError:
            self.close()
            raise HttpError("timeout after %d ms" % timeout_ms)
        except HttpError:
            self.close()
            raise
        except (OSError, EOFError, ValueError, IndexError) as ex:
            reused = self.requests > 0
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
        head += "\r\n"
        # one write: head and body in separate segments meet Nagle + delayed ACK (~40 ms)
        self.w.write(head.encode() + body if body else head.encode())
        await self.w.drain()
        self.bytes_out += len(head) + len(body)
        line = await self.r.readline()
        if not line:
            raise HttpError("connection closed", reused)
        self.requests += 1
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise HttpError("bad status line")
        status = int(parts[1])
        hdrs = {}
        n = len(line)
        while True:
            h = await self.r.readline()
            n += len(h)
            if not h or h == b"\r\n":
                break
            i = h.find(b":")
            if i > 0:
                k = h[:i].strip().lower().decode()
                if k in ("content-length", "transfer-encoding", "connection", "x-server-time"):
                    hdrs[k] = h[i + 1:].strip().decode()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            data = await self._chunked()
        elif "content-length" in hdrs:
            ln = int(hdrs["content-length"])
            if ln > MAX_BODY:
                raise HttpError("response body %d bytes too large" % ln)
            data = await self.r.readexactly(ln) if ln else b""
        else:
            data = await self.r.read(MAX_BODY)
            hdrs["connection"] = "close"
        self.bytes_in += n + len(data)
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, hdrs, data

    async def _chunked(self):
        out = b""
        while True:
            line = await self.r.readline()
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:                      # optional trailers, then an empty line
                    t = await self.r.readline()
                    if not t or t == b"\r\n":
                        return out
            if len(out) + size > MAX_BODY:
                raise HttpError("chunked body too large")
            out += await self.r.readexactly(size)
            await self.r.readline()
