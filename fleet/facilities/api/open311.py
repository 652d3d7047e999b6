"""Open311 GeoReport v2 (docs/open311.md): services, requests, tokens - JSON, the spec's fields,
statuses and error format ([{"code": <HTTP status>, "description": ...}]).

    GET  /open311/v2/discovery.json
    GET  /open311/v2/services.json               the categories (fleet.facilities.services)
    GET  /open311/v2/services/{code}.json        a definition (no extra attributes)
    POST /open311/v2/requests.json               a report: api_key for apps; without, the public
                                                 form (form=page: answers the page, not JSON)
    GET  /open311/v2/requests.json               filters: service_request_id, service_code,
                                                 start_date, end_date, status; last 90 days, <= 1000
    GET  /open311/v2/requests/{id}.json
    GET  /open311/v2/tokens/{token}.json

Reports are checked here for size (MAX_BODY before parsing), sender budget (abuse.ReportLimit)
and photo (photos.reencode, in a worker thread); fleet.facilities.reports stores them through
the group-commit writer, where the work order is opened or joined in the same transaction.
These routes are not in the fleet's OpenAPI schema: the Open311 spec is their contract.
"""

import functools
import hashlib

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest

from fleet.api.deps import client_address, get_db, runtime
from fleet.core import clock
from fleet.errors import FleetError
from fleet.facilities import photos, reports, services
from fleet.facilities.reports import Open311Error

router = APIRouter(prefix="/open311/v2", include_in_schema=False)
MAX_BODY = photos.MAX_BYTES + 256 * 1024
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def error(status, description, headers=None):
    return JSONResponse([{"code": status, "description": description}], status_code=status, headers=headers)


def _json(data, status=200):
    return JSONResponse(data, status_code=status)


def spec_errors(route):
    """A GET route's refusals in the spec's format, not the admin API's."""
    @functools.wraps(route)
    def answer(*args, **kwargs):
        try:
            return route(*args, **kwargs)
        except FleetError as exc:
            return error(400 if exc.status == 422 else exc.status, exc.message)
    return answer


@router.get("/discovery.json")
def discovery(request: Request, rt=Depends(runtime)):
    base = (rt.settings.public_url or str(request.base_url)).rstrip("/") + "/open311/v2/"
    return _json({"changeset": "2026-12-01T00:00:00Z", "contact": "the district's facilities office",
                  "key_service": "ask the district for an api_key (fleet open311-key create)",
                  "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                                 "changeset": "2026-12-01T00:00:00Z", "type": "production",
                                 "formats": ["application/json"]}]})


def _service(s):
    return {"service_code": s.code, "service_name": s.name, "description": s.description, "metadata": False,
            "type": "realtime", "keywords": s.keywords, "group": s.group}


@router.get("/services.json")
@spec_errors
def list_services():
    return _json([_service(s) for s in services.SERVICES])


@router.get("/services/{name}")
@spec_errors
def service_definition(name: str):
    code = _strip_json(name)
    if code not in services.BY_CODE:
        return error(404, "no service %r (GET services.json lists them)" % code[:40])
    return _json({"service_code": code, "attributes": []})


def _strip_json(name):
    if name.endswith(".json"):
        return name[:-5]
    raise Open311Error(400, "only JSON is served: ask for %s.json" % name.rsplit(".", 1)[0][:40])


@router.get("/requests.json")
@spec_errors
def search_requests(request: Request, db=Depends(get_db)):
    return _json(reports.search(db, dict(request.query_params)))


@router.get("/requests/{name}")
@spec_errors
def get_request(name: str, db=Depends(get_db)):
    ident = _strip_json(name)
    rec = reports.get(db, int(ident)) if ident.isdigit() and len(ident) < 19 else None
    if rec is None:
        return error(404, "no service request %r" % ident[:40])
    return _json([reports.public(rec)])


@router.get("/tokens/{name}")
@spec_errors
def token_lookup(name: str, db=Depends(get_db)):
    rec = reports.by_token(db, _strip_json(name))
    if rec is None:
        return error(404, "no service request has this token")
    return _json([{"service_request_id": str(rec["id"]), "token": rec["token"]}])


@router.post("/requests.json")
async def post_request(request: Request, rt=Depends(runtime), db=Depends(get_db)):
    fields, photo_upload = {}, None
    page = False
    try:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await _capped_body(request)
        if content_type not in FORM_TYPES and (body or content_type):
            raise Open311Error(400, "send the fields as a form (%s)" % " or ".join(FORM_TYPES))
        form = await _parse_form(request, body) if body else None
        for key, value in (form.multi_items() if form is not None else ()):
            if key == "media" and hasattr(value, "read"):
                photo_upload = value
            elif isinstance(value, str):
                fields[key] = value
        page = fields.pop("form", None) == "page"
        if fields.pop("website", ""):                      # the form's hidden trap: a bot filled it
            raise Open311Error(400, "unexpected field", "bad_request")
        service = rt.services["facilities"]
        app_key_id = _app_key(db, fields.pop("api_key", None) or request.query_params.get("api_key"))
        address = client_address(request)
        wait = service.limit.take(("app", app_key_id, address) if app_key_id else ("web", address), clock.now(),
                                  factor=10 if app_key_id else 1)
        if wait:
            wait = min(wait, 3600)
            raise Open311Error(429, "too many reports from this address; try again in %d s" % max(1, int(wait)),
                               "rate_limited", retry_after=max(1, int(wait)))
        reports.check_request(db.conn, fields)              # the spec's 400s before any photo work
        photo = None
        if photo_upload is not None and photo_upload.filename:
            data = await photo_upload.read()
            if data:
                photo = await run_in_threadpool(photos.reencode, data, photo_upload.content_type)
        lang = _lang(request, rt) if page else None
        result = await rt.writer.call(lambda tx: reports.create(
            tx, fields, "web" if not app_key_id else "app", service.client_hash(address), app_key_id, photo, lang))
    except FleetError as exc:
        if page:
            return _page_error(request, db, fields, exc)
        status = getattr(exc, "status", 400)
        status = 400 if status == 422 else status
        retry = getattr(exc, "retry_after", None)
        return error(status, exc.message, {"Retry-After": str(retry)} if retry else None)
    if page:
        return RedirectResponse("/r/%s" % result["token"], status_code=303)
    result.pop("duplicate")
    return _json([result])


async def _capped_body(request):
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise Open311Error(413, "a report may be at most %d MB with its photo" % (MAX_BODY // (1024 * 1024)),
                           "too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Open311Error(413, "a report may be at most %d MB with its photo" % (MAX_BODY // (1024 * 1024)),
                               "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _parse_form(request, body):
    """Parse the already-read body as a form (Starlette's parser, limited to what a report needs)."""
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    try:
        return await StarletteRequest(request.scope, replay).form(max_files=1, max_fields=40,
                                                                  max_part_size=64 * 1024)
    except Exception as exc:        # a malformed multipart body: the parser's own errors vary
        raise Open311Error(400, "the form could not be read: %s" % str(exc)[:100], "bad_request")


def _app_key(db, key):
    """The id of the Open311 app whose api_key this is; None when none is given; 403 if unknown."""
    if not key:
        return None
    found = db.conn.execute("SELECT id FROM open311_keys WHERE key_hash = ? AND revoked_at IS NULL",
                            (hashlib.sha256(key.encode()).hexdigest(),)).fetchone()
    if found is None:
        raise Open311Error(403, "api_key is not valid", "forbidden")
    return found[0]


def _lang(request, rt):
    from fleet.web.i18n import request_language
    return request_language(request, rt.settings.default_language)


def _page_error(request, db, fields, exc):
    """The public form, refused: its asset page again, with the reason and what was typed."""
    from fleet.facilities.assets import by_code
    from fleet.facilities.web import pages
    import devproto.assetcode as assetcode
    canonical = assetcode.normalise(fields.get("address_id"))
    asset = by_code(db, canonical) if canonical else None
    status = getattr(exc, "status", 400)
    status = 400 if status == 422 else status
    if asset is None:
        return pages.unknown_page(request, db, fields.get("address_id") or "")
    response = pages.asset_page(request, db, asset, status, exc.code if exc.code in pages.FORM_ERRORS else
                                "bad_request", exc.message, {k: fields.get(k) for k in ("service_code", "description",
                                                                                       "email")})
    if getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_in_spec(rest: str):
    return error(404, "no such Open311 endpoint: /open311/v2/%s" % rest[:80])
