"""Login, logout, and who am I - for the web UI and JSON clients alike."""

from fastapi import APIRouter, Depends, Request, Response

from fleet.api.deps import SESSION_COOKIE, client_address, current_principal, get_db, runtime
from fleet.api.schemas import ERROR_RESPONSES, LoginIn, Me
from fleet.domain import credentials

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)


def set_session_cookie(response, settings, sid):
    response.set_cookie(SESSION_COOKIE, sid, max_age=int(settings.session_hours * 3600), httponly=True,
                        samesite="strict", secure=settings.secure_cookies, path="/")


@router.post("/login", response_model=Me, summary="Log in; sets the session cookie")
def login(body: LoginIn, request: Request, response: Response, db=Depends(get_db), rt=Depends(runtime)):
    sid, user = credentials.login(db, body.username, body.password, rt.settings.session_hours,
                                  client_address(request), rt.logins)
    set_session_cookie(response, rt.settings, sid)
    return {"username": user["username"], "role": user["role"], "via": "session"}


@router.post("/logout", status_code=204, summary="End this session")
def logout(request: Request, db=Depends(get_db)):
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        credentials.end_session(db, sid)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me, summary="Who is logged in")
def me(principal=Depends(current_principal)):
    return {"username": principal.name, "role": principal.role,
            "via": "session" if principal.kind == "user" else principal.kind}
