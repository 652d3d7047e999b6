"""Cross-site request forgery: a browser's state change must say it comes from our own pages.

Rule: a request that changes state (any method but GET, HEAD, OPTIONS) and either carries the
session cookie or is a login or logout must have an `Origin` - or, failing that, a `Referer` -
whose host:port is this request's `Host`. Neither header, a `null` origin or another site:
403 `cross_site`.

Why a header check and not a CSRF token: every browser sends Origin on a POST/PUT/PATCH/DELETE
(fetch or form), our pages keep it (Referrer-Policy: same-origin, fleet.api.headers), and a
page cannot forge it; a token would mean a form field in every template and a header in every
script for the same protection. The session cookie is also SameSite=Strict: two guards.

Not affected: signed device requests (/api/v1/device/*) and tools that authenticate with an
API token (`Authorization: Bearer ...`) - a cross-site page cannot add that header without a
CORS preflight, which this server never grants. Behind a reverse proxy the proxy must pass the
browser's Host header through (docs/operations.md).
"""

from urllib.parse import urlsplit

import devproto
from starlette.requests import cookie_parser

from fleet.api.deps import SESSION_COOKIE
from fleet.api.errors import error_response

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
SESSION_PATHS = frozenset(("/login", "/logout", "/api/v1/auth/login", "/api/v1/auth/logout"))
REFUSAL = ("cross-site request refused: a change made with a login session must come from this site's own "
           "pages (Origin or Referer of this host); tools use an API token (Authorization: Bearer ...)")


def same_origin(headers):
    """True if the request's Origin (else Referer) names the host it was sent to."""
    host = headers.get("host", "").lower()
    source = headers.get("origin") or headers.get("referer")
    if not host or not source or source == "null":
        return False
    try:
        return urlsplit(source).netloc.lower() == host
    except ValueError:
        return False


DEVICE_PATHS = devproto.PREFIX + "/"


def needs_same_origin(method, path, headers):
    if method in SAFE_METHODS or path.startswith(DEVICE_PATHS):
        return False
    if headers.get("authorization", "")[:7].lower() == "bearer ":
        return False
    return path in SESSION_PATHS or SESSION_COOKIE in cookie_parser(headers.get("cookie", ""))


class CsrfGuard:
    """Pure ASGI middleware applying the rule above before any route runs."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if (scope["type"] == "http" and scope["method"] not in SAFE_METHODS
                and not scope["path"].startswith(DEVICE_PATHS)):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            if needs_same_origin(scope["method"], scope["path"], headers) and not same_origin(headers):
                return await error_response(403, "cross_site", REFUSAL)(scope, receive, send)
        await self.app(scope, receive, send)
