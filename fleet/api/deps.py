"""Dependencies of the admin API: the runtime, a database connection, who is asking, may they.

Authentication: `Authorization: Bearer ft_...` (API token) or the `fleet_session` cookie set
by the login. The cookie is SameSite=Strict, and a cookie-authenticated write must come from
this site's own pages (fleet.api.csrf checks Origin/Referer before any route runs).
"""

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPBearer

from fleet.core.permissions import allowed
from fleet.domain import credentials
from fleet.errors import Forbidden, Unauthorized

SESSION_COOKIE = "fleet_session"
bearer_auth = HTTPBearer(auto_error=False, description="API token (fleet token create)")
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="web login session")


async def runtime(request: Request):
    # async: FastAPI would run a plain function in the thread pool, a GIL hand-off per request
    return request.app.state.fleet


def client_address(request: Request):
    """The client's IP address (the real client's behind a trusted proxy: FLEET_FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def get_db(request: Request):
    db = request.app.state.fleet.connect()
    try:
        yield db
    finally:
        db.close()


def current_principal(db=Depends(get_db), bearer=Depends(bearer_auth), session=Depends(session_cookie),
                      rt=Depends(runtime)):
    if bearer is not None:
        return credentials.token_principal(db, bearer.credentials, rt.note_token_use)
    if session:
        return credentials.session_principal(db, session)
    raise Unauthorized("log in, or send an API token as 'Authorization: Bearer ...'")


def require(permission):
    """Dependency: the Principal, if its role has `permission` (fleet.core.permissions)."""
    async def check(principal=Depends(current_principal)):      # async: no thread hop
        if not allowed(principal.role, permission):
            raise Forbidden("role %r may not do this (%s)" % (principal.role, permission))
        return principal
    check.__name__ = "require_" + permission.replace(".", "_")
    return check
