"""HTML pages: the login form, the live device list, the alarm console and residents (the full
admin UI comes later).

Pages are thin shells; the device list and the alarm console fill themselves from the live
streams (/api/v1/live/devices, /api/v1/live/alarms), so the pages and API clients see the same data.
"""

from pathlib import Path

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from fleet.api.auth import set_session_cookie
from fleet.api.deps import SESSION_COOKIE, client_address, get_db, runtime
from fleet.core.permissions import allowed
from fleet.domain import credentials
from fleet.errors import TooManyAttempts, Unauthorized

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["allowed"] = allowed          # base.html shows the links a role may follow
router = APIRouter(include_in_schema=False)


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
        return templates.TemplateResponse(request, "login.html", {"error": exc.message, "username": username},
                                          status_code=401)
    except TooManyAttempts as exc:
        return templates.TemplateResponse(request, "login.html", {"error": exc.message, "username": username},
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


def _page(request, db, template, permission):
    who = _principal(request, db)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    if not allowed(who.role, permission):
        return templates.TemplateResponse(request, "forbidden.html", {"who": who}, status_code=403)
    return templates.TemplateResponse(request, template, {"who": who})


@router.get("/console")
def alarm_console(request: Request, db=Depends(get_db)):
    return _page(request, db, "console.html", "alarms.read")


@router.get("/residents")
def resident_list(request: Request, db=Depends(get_db)):
    return _page(request, db, "residents.html", "residents.read")
