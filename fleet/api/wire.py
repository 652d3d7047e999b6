"""Reading and answering device requests: raw bytes in, protocol-shaped JSON out.

Kept free of FastAPI's body parsing on purpose: the size limit must apply before parsing,
the signature covers the exact bytes, and this is the hot path.
"""

import devproto
import orjson

from fleet.api.errors import timed_response


def fail(code, message):
    raise devproto.ProtocolError(code, message)


def headers_of(request):
    """Request headers as a plain dict with lower-case names."""
    return headers_of_scope(request.scope)


def headers_of_scope(scope):
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def signed_path(request):
    """Path and query exactly as sent: what the device signed."""
    scope = request.scope
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string") or b""
    return path + "?" + query.decode("latin-1") if query else path


async def read_body(request, headers):
    """The raw body, refused with too_large as soon as it passes the limit (never parsed)."""
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > devproto.MAX_BODY):
        fail("too_large", "body over %d bytes" % devproto.MAX_BODY)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > devproto.MAX_BODY:
            fail("too_large", "body over %d bytes" % devproto.MAX_BODY)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw, headers):
    ctype = headers.get("content-type")
    if ctype is not None and ctype.split(";", 1)[0].strip().lower() != "application/json":
        fail("unsupported_media_type", "send the body as application/json, not %s" % ctype[:60])
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        fail("bad_json", "body is not valid JSON: %s" % str(exc)[:120])


def answer(payload, status=200):
    """A success response; adds the server time to the body (the middleware adds the header)."""
    return timed_response(payload, status)


_PROTOCOL_HEADER = devproto.H_PROTOCOL.lower()


def wants_signed_reply(headers):
    """The device speaks v1.1: it sent X-Protocol-Version: 1.1 and refuses a reply that is not signed."""
    return headers.get(_PROTOCOL_HEADER) == devproto.PROTOCOL


def sign_reply(response, key, nonce):
    """Add X-Server-Time and X-Reply-Signature (docs/protocol.md, "Signed replies")."""
    stamp = devproto.server_time_text(response.server_time_ms)
    response.headers[devproto.H_SERVER_TIME] = stamp
    response.headers[devproto.H_PROTOCOL] = devproto.PROTOCOL
    response.headers[devproto.H_REPLY_SIG] = devproto.reply_signature(
        key, nonce, response.status_code, stamp, response.body)
    return response
