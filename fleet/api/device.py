"""Device protocol v1.1 routes: enroll, hello, events, poll (docs/protocol.md).

The path of one event: bytes read with a cap (wire.read_body) -> signature checked
(identity.authenticate) -> device marked seen (status board, memory) -> batch validated
(devproto.check_batch) -> handed to the group-commit writer (ingest.EventsJob) -> awaited
until COMMIT -> answered with ack and `down` (downlink.compose) -> the reply signed with the
device's secret when the device asked for v1.1 (DeviceFastPath, wire.sign_reply).
"""

import logging

import devproto
from fastapi import APIRouter, Request
from starlette.requests import ClientDisconnect
from starlette.concurrency import run_in_threadpool

from fleet.api import device_schema as ds
from fleet.api.deps import client_address
from fleet.api.errors import client_went_away, error_response, retry_after
from fleet.api.schemas import ERROR_RESPONSES, EnrollOut, EventsOut, HelloOut, PollOut
from fleet.api.wire import (answer, fail, headers_of, headers_of_scope, parse_json, read_body, sign_reply, signed_path,
                            wants_signed_reply)
from fleet.core import clock
from fleet.domain import enrollment
from fleet.domain.identity import authenticate
from fleet.domain.ingest import EventsJob, HelloJob
from fleet.errors import TooManyAttempts

log = logging.getLogger("fleet.device")
router = APIRouter(prefix=devproto.PREFIX, tags=["device protocol v1"], responses=ERROR_RESPONSES)
SIGNER = "fleet.reply_signer"   # scope key: the authenticated device a reply is signed for


async def _signed_request(request, method, check=None):
    """(runtime, device, body, now) of an authentic request - its JSON body validated by `check`,
    if given - or a ProtocolError."""
    rt = request.app.state.fleet
    headers = headers_of(request)
    raw = await read_body(request, headers)
    now = clock.now()
    device = authenticate(rt.directory, rt.nonces, method, signed_path(request), headers, raw, now)
    request.scope[SIGNER] = device          # from here on, the reply can be signed for it
    rt.board.touch(device.id, now)
    if not rt.rate.allow(device.id, now):
        fail("rate_limited", "more than %d requests at once or %g a second from this device: back off"
             % (rt.rate.burst, rt.rate.rate))
    body = None
    if check is not None:
        body = parse_json(raw, headers)
        check(body)
    return rt, device, body, now


@router.post("/enroll", status_code=201, response_model=EnrollOut, openapi_extra=ds.body(ds.ENROLL),
             summary="Exchange an enrollment token for a device id and secret (not signed)")
async def enroll(request: Request):
    rt = request.app.state.fleet
    ip = client_address(request)
    try:
        rt.enrollments.check(ip)          # an address that keeps guessing waits, before anything is read
    except TooManyAttempts as exc:
        refusal = devproto.ProtocolError("rate_limited", exc.message)
        refusal.retry_after = exc.retry_after
        raise refusal
    headers = headers_of(request)
    body = parse_json(await read_body(request, headers), headers)
    devproto.check_enroll(body)
    try:
        result = await run_in_threadpool(_enroll, rt, body, ip)
    except devproto.ProtocolError as exc:
        rt.enrollments.refused(ip, exc.code, body["hw_id"])    # counted and audited in a summary row
        raise
    rt.device_changed(result["device_id"], downlink=True)
    return answer({k: result[k] for k in ("device_id", "secret", "config_version", "config")}, 201)


def _enroll(rt, body, ip):
    db = rt.connect()
    try:
        return enrollment.enroll(db, rt.box, body, ip)
    finally:
        db.close()


@router.post("/hello", response_model=HelloOut, openapi_extra=ds.signed(ds.body(ds.HELLO)),
             summary="Boot/wake report; answers the stream's ack and the downlink")
async def hello(request: Request):
    rt, device, body, now = await _signed_request(request, "POST", devproto.check_hello)
    ack = await rt.writer.submit(HelloJob(device, body, now))
    rt.hub.publish("devices", "device",
                   {"id": device.id, "fw": body["fw"], "app": body["app"], "rssi": body.get("rssi")})
    return answer({"device_id": device.id, "ack": ack, "down": rt.downlink.compose(device, body.get("cv"))})


@router.post("/events", response_model=EventsOut, openapi_extra=ds.signed(ds.body(ds.EVENTS)),
             summary="Store a batch of events durably, then acknowledge")
async def events(request: Request):
    rt, device, body, _ = await _signed_request(request, "POST", devproto.check_batch)
    ack, stored, duplicates = await rt.writer.submit(EventsJob(device, body.get("stream", 0), body["events"]))
    return answer({"ack": ack, "stored": stored, "duplicates": duplicates,
                   "down": rt.downlink.compose(device, body.get("cv"))})


def _poll_args(request):
    args = {"cursor": 0, "wait": 25, "cv": None}
    for name, value in request.query_params.multi_items():
        if name not in args:
            fail("bad_request", "poll: unknown query parameter '%s'" % name[:32])
        if not value.isdigit() or len(value) > 10:
            fail("bad_request", "poll: '%s' must be a non-negative integer" % name)
        args[name] = int(value)
    if not 1 <= args["wait"] <= devproto.MAX_POLL_WAIT:
        fail("bad_request", "poll: 'wait' must be 1-%d seconds" % devproto.MAX_POLL_WAIT)
    return args


@router.get("/poll", response_model=PollOut, openapi_extra=ds.signed({"parameters": ds.POLL_QUERY}),
            summary="Long-poll: answer when down.cursor passes `cursor`, or after `wait` seconds")
async def poll(request: Request):
    rt, device, _, _ = await _signed_request(request, "GET")
    args = _poll_args(request)
    entry = await rt.downlink.wait_beyond(device, args["cursor"], args["wait"])
    rt.board.touch(device.id, clock.now())   # it was connected all along
    return answer({"down": entry.down(args["cv"])})


class DeviceFastPath:
    """ASGI middleware: send the four device endpoints straight to their handlers.

    The same handlers are also FastAPI routes (above: OpenAPI docs, schema fuzz, anything the
    fast path does not take); this only skips FastAPI's routing and dependency machinery,
    which costs more than the whole signature check. Errors are answered here, in the
    protocol's shape (a bug becomes a logged 500 `internal`; the device retries).
    """

    ROUTES = {("POST", devproto.PATH_ENROLL): enroll, ("POST", devproto.PATH_HELLO): hello,
              ("POST", devproto.PATH_EVENTS): events, ("GET", devproto.PATH_POLL): poll}

    def __init__(self, app, fastapi_app):
        self.app = app
        self.fastapi_app = fastapi_app     # handlers find the runtime as request.app.state.fleet

    async def __call__(self, scope, receive, send):
        handler = self.ROUTES.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if handler is None:
            return await self.app(scope, receive, send)
        scope["app"] = self.fastapi_app
        scope["fleet.route"] = scope["path"]      # the metrics' route label (no router ran)
        signer = None
        try:
            response = await handler(Request(scope, receive, send))
        except devproto.ProtocolError as exc:
            response = error_response(exc.status(), exc.code, exc.message, retry_after(exc))
            signer = getattr(exc, "signer", None)
        except ClientDisconnect:
            response = client_went_away(scope)
        except Exception:
            log.exception("internal error on %s %s", scope["method"], scope["path"])
            response = error_response(500, "internal", "server fault; retry later")
        signer = scope.get(SIGNER) or signer
        if signer is not None:
            headers = headers_of_scope(scope)
            if wants_signed_reply(headers):
                sign_reply(response, signer.key, headers["x-nonce"])
        await response(scope, receive, send)
