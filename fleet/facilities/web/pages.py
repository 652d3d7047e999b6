"""Facilities' pages.

Public, no login (what a QR label opens): /a/<code> - the asset, its status in plain words and
the report-a-problem form (a plain HTML form posting to Open311's requests.json: no script,
works on any phone); a helpful page for an unknown or mistyped code; /r/<token> - follow a
report. These render with their own small base (public_base.html: no page bar, one CSS file,
no script), in the reader's language (the language cookie, else Accept-Language).

Staff (login): /tech - the technician's work orders, phone-sized, offline-tolerant (static/tech.js);
/assets - the registry and CSV import; /facilities/tracking - handling per week and category.
"""

from pathlib import Path

import devproto.assetcode as assetcode
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from fleet import i18n as languages
from fleet.api.deps import SESSION_COOKIE, get_db
from fleet.domain import credentials
from fleet.errors import Unauthorized
from fleet.facilities import public, reports, services
from fleet.facilities.assets import by_code
from fleet.facilities.web.pagecache import RenderedPages
from fleet.web.i18n import N_, page_context, request_language
from fleet.web.pages import page, register_nav_link, register_templates, templates

HERE = Path(__file__).parent
STATIC = HERE / "static"
register_templates("facilities", HERE / "templates")
register_nav_link("/tech", N_("Work orders"), "workorders.read", "nav-tech")
register_nav_link("/assets", N_("Assets"), "assets.read", "nav-assets")
register_nav_link("/facilities/tracking", N_("Handling"), "facilities.tracking", "nav-tracking")
router = APIRouter(include_in_schema=False)

TYPE_NAMES = {"streetlight": N_("Streetlight"), "manhole_cover": N_("Manhole cover"), "bin": N_("Bin"),
              "other": N_("Public facility")}
# Form errors by code, in the reader's words (the API's English detail follows a generic one).
FORM_ERRORS = {"photo_type": N_("The photo must be a JPEG, PNG or WebP picture."),
               "photo_size": N_("The photo is too large (at most 5 MB)."),
               "photo_unreadable": N_("The photo could not be read as a picture."),
               "too_large": N_("The report is too large (at most 5 MB with its photo)."),
               "rate_limited": N_("Too many reports from your connection. Please try again later."),
               "bad_request": N_("Please check the form.")}
# Each step of the work order behind a report, as the reporter reads it (reports.PUBLIC_STEPS).
STEP_WORDS = {"opened": N_("Received: a repair was opened."),
              "joined": N_("A report of this problem was added to the repair."),
              "assigned": N_("A maintenance team has it."), "assign": N_("A maintenance team has it."),
              "take": N_("A technician took it."), "start": N_("The repair started."),
              "overdue": N_("Taking longer than promised: passed on to the supervisors."),
              "escalated": N_("Still not repaired: passed on to the managers."),
              "sensor_restored": N_("The facility's sensor says it works again."),
              "resolve": N_("Repaired."), "close": N_("The repair was checked and closed."),
              "reject": N_("Not acted on (the reason is above).")}


def _staff(request, db):
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    try:
        return credentials.session_principal(db, sid)
    except Unauthorized:
        return None


def _asset_context(facts, staff, error=None, detail=None, form=None):
    return {"asset": facts, "type_name": TYPE_NAMES.get(facts["type"], TYPE_NAMES["other"]),
            "services": services.for_asset_type(facts["type"]), "error": error,
            "error_text": FORM_ERRORS.get(error, FORM_ERRORS["bad_request"]) if error else None, "detail": detail,
            "form": form or {}, "staff": staff, "categories": {s.code: s.name for s in services.SERVICES}}


def asset_page(request, db, asset, status_code=200, error=None, detail=None, form=None):
    """The public page of an asset record (also re-shown with an error after a refused report)."""
    return templates.TemplateResponse(request, "facilities/asset.html", _asset_context(
        public.view(db.conn, asset), _staff(request, db) is not None, error, detail, form), status_code=status_code)


ASSET_TEMPLATE = "facilities/asset.html"
PAGES = RenderedPages()


def public_asset_page(request, conn, asset):
    """The page anyone gets (no session), from PAGES when the same facts were rendered before in
    the same language for the same path (pagecache.py says why that is never stale)."""
    settings = request.app.state.fleet.settings
    lang = request_language(request, settings.default_language)
    path = request.url.path + ("?" + request.url.query if request.url.query else "")
    facts = public.view(conn, asset)
    key = PAGES.key(ASSET_TEMPLATE, lang, path, languages.time_zone(settings.time_zone), facts)
    body = PAGES.get(key)
    if body is None:
        context = dict(page_context(request), request=request, **_asset_context(facts, staff=False))
        body = templates.get_template(ASSET_TEMPLATE).render(context).encode()
        PAGES.put(key, body)
    return HTMLResponse(body)


@router.get("/a/{code:path}")
async def asset_by_code(request: Request, code: str):
    """What a QR label opens: the hot path. Async, with no per-request connection or thread: the
    asset and its status are three indexed reads on the runtime's read connection, on the event
    loop (as downlink providers read), and the rendered page usually comes from PAGES. A signed-in
    technician (who gets a link to the technician view) and an unknown code go the ordinary way."""
    canonical = assetcode.normalise(code)
    if request.cookies.get(SESSION_COOKIE) is None and canonical and assetcode.is_valid(canonical):
        reader = request.app.state.fleet.reader
        asset = by_code(reader, canonical)
        if asset is not None:
            return public_asset_page(request, reader.conn, asset)
    return await run_in_threadpool(_asset_or_unknown, request, code)


def _asset_or_unknown(request, code):
    db = request.app.state.fleet.connect()
    try:
        canonical = assetcode.normalise(code)
        asset = by_code(db, canonical) if canonical and assetcode.is_valid(canonical) else None
        if asset is None:
            return unknown_page(request, db, code)
        return asset_page(request, db, asset)
    finally:
        db.close()


@router.get("/a")
def find_code(request: Request, code: str = "", db=Depends(get_db)):
    """The 'type the code' form of the unknown-code page."""
    canonical = assetcode.normalise(code)
    asset = by_code(db, canonical) if canonical and assetcode.is_valid(canonical) else None
    if asset is None:
        return unknown_page(request, db, code)
    return asset_page(request, db, asset)


def unknown_page(request, db, typed):
    canonical = assetcode.normalise(typed)
    mistyped = canonical is None or not assetcode.is_valid(canonical)
    return templates.TemplateResponse(request, "facilities/unknown.html", {
        "typed": (typed or "")[:40], "mistyped": mistyped, "suggestions": public.suggestions(db.conn, typed),
        "type_names": TYPE_NAMES}, status_code=404)


@router.get("/r/{token}")
def follow_report(request: Request, token: str, db=Depends(get_db)):
    rec = reports.by_token(db, token)
    if rec is None:
        return templates.TemplateResponse(request, "facilities/unknown_report.html", {}, status_code=404)
    asset = by_code(db, rec["address_id"]) if rec["address_id"] else None
    service = services.BY_CODE.get(rec["service_code"])
    return templates.TemplateResponse(request, "facilities/follow.html", {
        "report": reports.public(rec), "state": rec["state"] or "new", "rec": rec,
        "service_name": service.name if service else rec["service_code"],
        "asset": public.view(db.conn, asset) if asset else None,
        "type_name": TYPE_NAMES.get(asset["type"]) if asset else None,
        "steps": reports.history(db, rec), "step_words": STEP_WORDS})


def _names(request):
    """Category and asset-type names in the reader's language, for the staff pages' scripts."""
    lang = request_language(request, request.app.state.fleet.settings.default_language)
    words = languages.translations(lang)
    return ({s.code: words.gettext(s.name) for s in services.SERVICES},
            {k: words.gettext(v) for k, v in TYPE_NAMES.items()})


@router.get("/tech")
def technician_view(request: Request, db=Depends(get_db)):
    categories, types = _names(request)
    return page(request, db, "facilities/tech.html", "workorders.read",
                {"category_names": categories, "type_names": types})


@router.get("/assets")
def asset_registry(request: Request, db=Depends(get_db)):
    return page(request, db, "facilities/assets.html", "assets.read")


@router.get("/facilities/tracking")
def tracking_page(request: Request, db=Depends(get_db)):
    return page(request, db, "facilities/tracking.html", "facilities.tracking", {"category_names": _names(request)[0]})
