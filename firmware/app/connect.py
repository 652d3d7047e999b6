# Setting up the way to the fleet over TLS or to a host name, loaded only while it is done
# and dropped after. setup() runs at start-up (Link()): it reads the pinned CA from
# /config.json's "ca", raises the clock to its start after a power cut, and makes the one
# SSLContext both connections share -- then, while the heap is still compact: the context is one
# ~3 KB block on the unix port (mbedTLS's structures inside the object), which a fragmented heap
# may not have later. open_connection() opens a connection: the host name resolved off the loop
# (resolve.py), TLS that verifies the fleet against the pinned CA - without one only when config
# says "tls_insecure": true, and then loudly. Plain HTTP to an address needs none of it (httpc
# opens that directly).
import sys
import asyncio
import log
import httpc


def setup(config, clock):
    """The SSLContext that verifies an https fleet against the pinned CA (one that verifies
    nothing for "tls_insecure"), or None when there is no CA: no connection then."""
    ca = config.get("ca")
    if ca:
        try:
            import store
            with open(store.path(ca), "rb") as f:
                ca = f.read()
        except OSError:
            log.e("link", "CA file %s missing: cannot verify the fleet" % ca)
            ca = None
    if not ca and config.get("tls_insecure") is True:
        log.e("link", "INSECURE: tls_insecure is set, the fleet's certificate is NOT verified")
        return _context(b"")
    if not ca:
        log.e("link", "https needs a CA certificate (\"ca\" in /config.json): not connecting")
        return None
    if ca and (ca[:5] == b"-----" or not clock.synced):
        import certtime             # a PEM file, or a clock not set since power-on
        try:
            ca = certtime.der(ca)
            floor = certtime.not_before(ca)
            if not clock.synced and clock.now() < floor:
                # a power cut restarted the clock at 2000: no certificate would verify. Until
                # the fleet's signed time, run from the CA's start (docs/protocol.md)
                clock.write(floor, 0)
                log.i("clock", "not set since power-on: raised to the CA certificate's start")
        except (ValueError, IndexError):
            log.e("link", "CA certificate unreadable: clock not raised")
        sys.modules.pop("certtime", None)
    return _context(ca)


def _context(ca):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        ctx.load_verify_locations(cadata=ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:                           # "tls_insecure": true in /config.json
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def open_connection(conn):
    """Open conn's connection: (reader, writer)."""
    if conn.failed >= 3 and conn.target != conn.host:
        conn.target = None          # 3 failed connections in a row: the fleet may have moved
        conn.failed = 0
    if conn.target is None:
        import resolve
        conn.target = await resolve.resolve(conn.host, conn.port)
    if conn.tls:
        if conn.ssl is None:
            raise httpc.HttpError("https without a CA certificate: not connecting unverified")
        return await asyncio.open_connection(conn.target, conn.port, ssl=conn.ssl,
                                             server_hostname=conn.host)
    return await asyncio.open_connection(conn.target, conn.port)
