# Resumable download of one OTA artifact (docs/ota.md "Download"): HTTP Range from what is
# already on flash, SHA-256 over it as it is written, in chunks that fit the heap. A Wi-Fi cut
# ends the request; the caller retries and it resumes; a power cut loses at most what was not
# yet synced (the file sink syncs every _SYNC bytes, the partition sink every block run), and
# the next attempt hashes again what is on flash before it asks for the rest.
# Loaded only while an update runs.
import os
import asyncio
import hashlib
import httpc
import store
from config import parse_url
from micropython import const

_SYNC = const(16384)        # bytes between syncs to flash (a power cut loses at most this)
_CHUNK_MS = const(15000)    # a read that gets nothing this long: the link is gone


class Busy(Exception):
    """The server is turned away (503/429): wait and retry, never a failure of the device."""


class Gone(Exception):
    """The URL is no longer valid (403/404/410): ask the fleet for a fresh offer."""


class FileSink:
    """An app bundle downloading into a file on LittleFS (appended; synced every _SYNC)."""

    def __init__(self, path):
        self.path = store.path(path)
        self.f = None

    def size(self):
        try:
            return os.stat(self.path)[6]
        except OSError:
            return 0

    def rehash(self, h, buf):
        got = 0
        try:
            with open(self.path, "rb") as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    h.update(buf[:n])
                    got += n
        except OSError:
            pass
        return got

    def start(self, at):
        if at == 0:
            store.remove(self.path[len(store.ROOT):])
        self.f = open(self.path, "ab")

    def write(self, mv):
        self.f.write(mv)

    def sync(self, got):
        self.f.flush()                  # LittleFS: lfs_file_sync, the bytes are committed

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None


def _open(link, url):
    """A connection for url: a path ("/ota/dl/...") is on the fleet, with its base path, TLS
    context and resolved address; a full URL (a mirror) gets its own connection."""
    lc = link.conn
    if url.startswith("/"):
        c = httpc.Conn(lc.host, lc.port, lc.tls, lc.ssl, lc.target)
        path = link.base + url
    else:                               # one SSLContext (the pinned CA) for every connection
        tls, host, port, path = parse_url(url)
        c = httpc.Conn(host, port, tls, lc.ssl if tls else None, lc.target if host == lc.host else None)
    return c, path or "/"


async def fetch(link, url, sink, total, etag, buf, report=None):
    """Download url into sink until it holds total bytes; returns the SHA-256 digest of all of
    it. Raises httpc.HttpError (cut: retry), Busy, Gone, OSError (flash: full or broken)."""
    h = hashlib.sha256()
    got = sink.rehash(h, buf)
    if got > total:
        got = 0
        h = hashlib.sha256()
    if got == total:
        return h.digest()
    c, path = _open(link, url)
    try:
        st, hdrs, _ = await c.request("GET", path, {"Range": "bytes=%d-" % got,
                                                          "If-Range": '"%s"' % etag}, b"", 15000, True)
        if st == 200 and got:
            got = 0                         # the server sent it whole: start again
            h = hashlib.sha256()
        elif st == 206:
            if not hdrs.get("content-range", "").startswith("bytes %d-" % got):
                raise httpc.HttpError("content-range %s for offset %d" % (hdrs.get("content-range"), got))
        elif st in (429, 503):
            raise Busy()
        elif st in (403, 404, 410):
            raise Gone()
        elif st != 200:
            raise httpc.HttpError("download: HTTP %d" % st)
        sink.start(got)
        synced = got
        step = total // 4 or 1
        mark = got // step
        r = c.r
        whole = memoryview(buf)
        while got < total:
            mv = whole[:min(len(buf), total - got)]
            n = await asyncio.wait_for_ms(r.readinto(mv), _CHUNK_MS)
            if not n:
                break                       # the connection ended: the caller resumes
            sink.write(mv[:n])
            h.update(mv[:n])
            got += n
            if got - synced >= _SYNC:
                sink.sync(got)
                synced = got
            if report is not None and got // step != mark and got < total:
                mark = got // step
                report(got * 100 // total)
        sink.sync(got)
        if got < total:
            raise httpc.HttpError("connection ended at %d of %d bytes" % (got, total))
        return h.digest()
    except asyncio.TimeoutError:
        raise httpc.HttpError("download stalled")
    finally:
        sink.close()
        await c.close()


async def text(link, url):
    """A small document (the signed manifest) at url, as text."""
    c, path = _open(link, url)
    try:
        st, hdrs, data = await c.request("GET", path, {}, b"", 15000)
    finally:
        await c.close()
    if st in (429, 503):
        raise Busy()
    if st in (403, 404, 410):
        raise Gone()
    if st != 200:
        raise httpc.HttpError("manifest: HTTP %d" % st)
    return data.decode()
