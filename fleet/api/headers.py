"""Security headers on every response: what a browser may load, frame, send on, and keep.

- Content-Security-Policy: scripts, styles, images and connections from this site only, no
  inline script, no framing (`frame-ancestors 'none'`), forms post only here. The OpenAPI pages
  (/docs, /redoc) get a looser policy: FastAPI renders them with an inline start-up script.
- X-Content-Type-Options: nosniff; X-Frame-Options: DENY (for browsers without CSP 3).
- Referrer-Policy: same-origin - no URL leaks to other sites, and our own pages keep Origin
  and Referer on their requests (the CSRF rule, fleet.api.csrf, needs them).
- Cache-Control: no-store on everything but the public files (/static/, the scripts' message
  catalogs under /i18n/, the favicon): pages and API answers carry personal data (residents,
  alarms, users, sessions, exports) or secrets (enrollment), and a shared computer's cache or a
  proxy must not keep them.

A map tile server (FLEET_MAP_TILE_URL) is the one other origin a page may load images from.
"""

from urllib.parse import urlsplit

from fleet.errors import Invalid

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
# The docs' scripts and styles are served from the package (fastapi-offline): no CDN is allowed.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
STATIC_PREFIX = "/static/"
# The same for everyone, nothing personal: cacheable.
PUBLIC_PREFIXES = (STATIC_PREFIX, "/static-offline-docs/", "/i18n/", "/favicon.ico")

_COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def tile_origins(url):
    """(origin,) of a map tile server's URL template, () for none. Invalid unless it is an
    http(s) URL with {z}, {x} and {y} (and nothing that could break out of the CSP)."""
    if not url:
        return ()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(k not in url for k in ("{z}", "{x}", "{y}")) \
            or any(c in url for c in " ;,'\""):
        raise Invalid("FLEET_MAP_TILE_URL must be an http(s) URL template with {z}, {x} and {y}, "
                      "e.g. https://tiles.example.org/{z}/{x}/{y}.png, not %r" % url)
    return ("%s://%s" % (parts.scheme, parts.netloc),)


def security_headers(path, img_origins=()):
    """The headers (a dict) every response to `path` carries."""
    headers = dict(_COMMON)
    page_csp = PAGE_CSP.replace("img-src 'self' data:", " ".join(("img-src 'self' data:",) + tuple(img_origins)))
    headers["Content-Security-Policy"] = DOCS_CSP if path in DOCS_PATHS else page_csp
    if not path.startswith(PUBLIC_PREFIXES):
        headers["Cache-Control"] = "no-store"
    return headers


def _encoded(headers):
    """(names, [(name, value)]) as ASGI wants them: lower-case bytes."""
    pairs = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return frozenset(name for name, _ in pairs), pairs


_STATIC = _encoded(security_headers(STATIC_PREFIX))
_DOCS = _encoded(security_headers("/docs"))


class SecurityHeaders:
    """Pure ASGI middleware: set the headers above on every HTTP response (replacing a
    handler's own Cache-Control, e.g. the live streams' no-cache, with no-store). img_origins:
    the tile server's, if there is one (tile_origins)."""

    def __init__(self, app, img_origins=()):
        self.app = app
        self._page = _encoded(security_headers("/", img_origins))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        names, extra = _STATIC if path.startswith(PUBLIC_PREFIXES) else _DOCS if path in DOCS_PATHS else self._page

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [h for h in message.get("headers", ()) if h[0] not in names] + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
