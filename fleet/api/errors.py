"""Every error is JSON: {"error": {"code", "message"}, "time"}, and every response has X-Server-Time
(Unix seconds with exactly three decimals, devproto.server_time_text).

Device endpoints (/api/v1/device/*) answer with the protocol's codes and statuses
(devproto.ERRORS), including FastAPI's own 404/405/422; the admin API uses the same shape
with its own codes (fleet.errors).
"""

import logging

import devproto
import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from fleet.api.headers import security_headers
from fleet.connections import TIMED_OUT
from fleet.core import clock
from fleet.errors import FleetError

log = logging.getLogger("fleet.api")

H_SERVER_TIME = devproto.H_SERVER_TIME.lower().encode()
_BY_STATUS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "invalid", 429: "rate_limited"}


def server_time_ms():
    """Unix time in integer milliseconds: one value for a reply's "time" and X-Server-Time."""
    return int(clock.now() * 1000)


def timed_response(payload, status, headers=None):
    """JSON response with payload["time"] set; remembers the time for a reply signature."""
    ms = server_time_ms()
    payload["time"] = ms / 1000
    response = Response(orjson.dumps(payload), status_code=status, media_type="application/json",
                        headers=headers)
    response.server_time_ms = ms
    return response


def error_response(status, code, message, headers=None):
    return timed_response({"error": {"code": code, "message": message}}, status, headers)


def _is_device_path(request):
    return request.url.path.startswith(devproto.PREFIX + "/")


async def protocol_error(request, exc):
    return error_response(exc.status(), exc.code, exc.message, retry_after(exc))


def retry_after(exc):
    """A Retry-After header for a refusal that says how long to wait (rate limits), else None."""
    seconds = getattr(exc, "retry_after", None)
    return {"Retry-After": str(seconds)} if seconds else None


async def fleet_error(request, exc):
    return error_response(exc.status, exc.code, exc.message, retry_after(exc))


def client_went_away(scope):
    """One log line, not a 500 and a traceback: the client closed its connection (or was timed
    out) before its request body was complete. Nobody is left to answer; the status is for logs."""
    client = scope.get("client")
    why = ("was too slow (FLEET_BODY_TIMEOUT_S)" if scope.get(TIMED_OUT) else "disconnected")
    log.info("client %s %s before sending its whole request: %s %s", client[0] if client else "?", why,
             scope.get("method"), scope.get("path"))
    return Response(status_code=499)


async def disconnected(request, exc):
    return client_went_away(request.scope)


async def http_error(request, exc):
    if isinstance(exc.__cause__, ClientDisconnect):       # FastAPI reports it as "error parsing the body"
        return client_went_away(request.scope)
    code = _BY_STATUS.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if code == "not_found" and message == "Not Found":
        message = "no such endpoint: %s" % request.url.path
    return error_response(exc.status_code, code, message, getattr(exc, "headers", None))


async def validation_error(request, exc):
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = "%s: %s" % (where, first.get("msg", "invalid")) if where else first.get("msg", "invalid request")
    if _is_device_path(request):
        return error_response(400, "bad_request", message)
    return error_response(422, "invalid", message)


async def internal_error(request, exc):
    # Starlette answers this outside the middleware stack: set the time and security headers here.
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "server fault; retry later",
                          headers=dict(security_headers(request.url.path),
                                       **{devproto.H_SERVER_TIME: devproto.server_time_text(server_time_ms())}))


def install(app):
    app.add_exception_handler(devproto.ProtocolError, protocol_error)
    app.add_exception_handler(FleetError, fleet_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ClientDisconnect, disconnected)
    app.add_exception_handler(Exception, internal_error)


class ServerTimeMiddleware:
    """Pure ASGI (cheap on the hot path): add X-Server-Time to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_time(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name == H_SERVER_TIME for name, _ in headers):
                    headers.append((H_SERVER_TIME, devproto.server_time_text(server_time_ms()).encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_time)
