"""HTML pages of the core: the login form and the live device list (the full admin UI comes later);
the page bar, the language switch and the scripts' catalog every page uses.

Capabilities add their own pages (care: the alarm console and residents, fleet/care/web/pages.py)
with their templates, registered here under their name (`care/console.html`), and their links in
the page bar; their static files are served at /static/<name>/ (fleet/main.py).
Pages are thin shells; the device list fills itself from the live stream (/api/v1/live/devices),
so the pages and API clients see the same data.
Every page is bilingual (fleet/web/i18n.py, docs/i18n.md): no text in a template or script
outside a translation call.
"""

from pathlib import Path
from typing import NamedTuple

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from fleet.api.auth import set_session_cookie
from fleet.api.deps import SESSION_COOKIE, client_address, get_db, runtime
from fleet.core.permissions import allowed
from fleet.domain import credentials
from fleet.errors import NotFound, TooManyAttempts, Unauthorized
from fleet.i18n import LANGUAGES
from fleet.web import i18n

HERE = Path(__file__).parent
STATIC = HERE / "static"
_CAPABILITY_TEMPLATES = {}        # capability name -> its templates' loader
templates = Jinja2Templates(directory=HERE / "templates", context_processors=[i18n.page_context])
templates.env.loader = ChoiceLoader([templates.env.loader, PrefixLoader(_CAPABILITY_TEMPLATES)])
templates.env.globals["allowed"] = allowed          # base.html shows the links a role may follow
i18n.install(templates.env)
router = APIRouter(include_in_schema=False)


class NavLink(NamedTuple):
    href: str
    label: str                  # English, marked with N_() where it is defined; shown translated
    permission: str             # shown to roles that have it (fleet.core.permissions)
    link_id: str


NAV_LINKS = []                  # the page bar's links after "Devices", in the order registered
templates.env.globals["nav_links"] = NAV_LINKS


def register_templates(name, folder):
    """A capability's templates, found as "<name>/<file>"; they extend "base.html" like any page."""
    _CAPABILITY_TEMPLATES[name] = FileSystemLoader(folder)


def register_nav_link(href, label, permission, link_id):
    """A link in the page bar (base.html) for those whose role has permission."""
    link = NavLink(href, label, permission, link_id)
    if link not in NAV_LINKS:
        NAV_LINKS.append(link)


def _principal(request, db):
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    try:
        return credentials.session_principal(db, sid)
    except Unauthorized:
        return None


@router.get("/")
def index():
    return RedirectResponse("/devices", status_code=303)


@router.get("/login")
def login_form(request: Request):
    return templates.TemplateResponse(request, "login.html", {"error": None, "username": ""})


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), db=Depends(get_db),
          rt=Depends(runtime)):
    try:
        sid, _ = credentials.login(db, username, password, rt.settings.session_hours, client_address(request),
                                   rt.logins)
    except Unauthorized as exc:
        # The page words the refusal in the reader's language from its code.
        return templates.TemplateResponse(request, "login.html", {"error": exc.code, "username": username},
                                          status_code=401)
    except TooManyAttempts as exc:
        return templates.TemplateResponse(request, "login.html", {"error": exc.code, "username": username,
                                                                  "retry_after": exc.retry_after},
                                          status_code=429, headers={"Retry-After": str(exc.retry_after)})
    response = RedirectResponse("/devices", status_code=303)
    set_session_cookie(response, rt.settings, sid)
    return response


@router.post("/logout")
def logout(request: Request, db=Depends(get_db)):
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        credentials.end_session(db, sid)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/devices")
def device_list(request: Request, db=Depends(get_db)):
    who = _principal(request, db)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    return templates.TemplateResponse(request, "devices.html", {"who": who})


def page(request, db, template, permission, context=None):
    """A page for a signed-in person whose role has permission: the login form for nobody, a
    `forbidden` page for the wrong role. context: more template values, or a function of the
    Principal returning them (called only for someone allowed to see the page)."""
    who = _principal(request, db)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    if not allowed(who.role, permission):
        return templates.TemplateResponse(request, "forbidden.html", {"who": who}, status_code=403)
    if callable(context):
        context = context(who)
    return templates.TemplateResponse(request, template, dict(context or {}, who=who))


@router.get("/language/{lang}")
def switch_language(lang: str, back: str = Query("/", alias="next"), rt=Depends(runtime)):
    """The 中文 / English switch: remember the choice in a cookie, go back to the page. A link (GET)
    so it works on every page, the login included, without a form or token: a language is no
    privilege, and the target is always a path on this site."""
    response = RedirectResponse(i18n.local_target(back), status_code=303)
    if lang in LANGUAGES:
        i18n.set_language_cookie(response, lang, rt.settings.secure_cookies)
    return response


@router.get("/i18n/{lang}.js")
def script_catalog(lang: str, v: str = ""):
    """The page scripts' messages in one language (from the .po files); immutable per version."""
    if lang not in LANGUAGES:
        raise NotFound("no language %r here (%s)" % (lang, ", ".join(LANGUAGES)))
    body, version = i18n.js_catalog(lang)
    cache = "public, max-age=31536000, immutable" if v == version else "no-cache"
    return Response(body, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": cache, "ETag": '"%s"' % version})


@router.get("/favicon.ico")
def favicon():
    return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})
