"""Health, the audit log and CSV exports."""

import io
from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from fleet.api.deps import get_db, require, runtime
from fleet.api.schemas import ERROR_RESPONSES, AuditOut, BeforeId, Health
from fleet.domain import audit, export
from fleet.store import migrations

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.get("/health", response_model=Health, tags=["health"], summary="Is the fleet up (no login needed)")
def health(db=Depends(get_db), rt=Depends(runtime)):
    devices = db.conn.execute("SELECT count(*) FROM devices").fetchone()[0]
    return {"status": "ok", "schema_version": migrations.version(db), "devices": devices,
            "commits": rt.writer.commits, "live_subscribers": rt.hub.subscribers}


@router.get("/audit", response_model=list[AuditOut], tags=["audit"], summary="Audit log, newest first")
def audit_log(limit: int = Query(100, ge=1, le=1000), before_id: BeforeId = None,
              action: Optional[str] = None, db=Depends(get_db), who=Depends(require("audit.read"))):
    return audit.entries(db, limit, before_id, action)


@router.get("/export/{kind}.csv", tags=["export"], summary="Devices or events as CSV",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_csv(kind: Literal["devices", "events"], device_id: Optional[str] = None,
               db=Depends(get_db), who=Depends(require("export"))):
    out = io.StringIO()
    export.write_csv(db, kind, out, device_id)
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="%s.csv"' % kind})
