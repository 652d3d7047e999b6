"""GET /metrics: Prometheus metrics (fleet.metrics), never public.

Read by Prometheus with the metrics token (FLEET_METRICS_TOKEN, sent as `Authorization: Bearer
...`; in the scrape config `authorization: {credentials_file: ...}`), or by an admin (API token
or login). Without a metrics token set, only admins may read it.
"""

import hmac

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from fleet.api.deps import bearer_auth, current_principal, get_db, runtime, session_cookie
from fleet.api.schemas import ERROR_RESPONSES
from fleet.core.permissions import allowed
from fleet.errors import Forbidden

router = APIRouter(tags=["metrics"], responses=ERROR_RESPONSES)


def metrics_access(rt=Depends(runtime), db=Depends(get_db), bearer=Depends(bearer_auth),
                   session=Depends(session_cookie)):
    """The metrics token, or else an admin's API token or login (401/403 otherwise)."""
    token = rt.settings.metrics_token
    if token and bearer is not None and hmac.compare_digest(bearer.credentials.encode(), token.encode()):
        return "metrics token"
    principal = current_principal(db, bearer, session, rt)
    if not allowed(principal.role, "metrics.read"):
        raise Forbidden("role %r may not read metrics (metrics.read)" % principal.role)
    return principal


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (the metrics token, or an admin)",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"}})
def metrics(reader=Depends(metrics_access), rt=Depends(runtime)):
    return Response(rt.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
