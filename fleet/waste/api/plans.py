"""Collection plans: make one, read it, the crew's marks, route exports (CSV, GPX)."""

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES, RowId
from fleet.waste import export, planning

router = APIRouter(prefix="/api/v1/waste", tags=["waste"], responses=ERROR_RESPONSES)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trucks: Optional[int] = Field(None, ge=1, le=100)
    shift_start: Optional[int] = Field(None, ge=0, le=2 ** 32, description="Unix seconds; default the next shift")


class MarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal[planning.MARKS]


@router.post("/plans", status_code=201, summary="Plan the next shift's collections and routes")
def make_plan(request: Request, body: PlanIn, db=Depends(get_db), who=Depends(require("waste.plan"))):
    return planning.make_plan(db, who, request.app.state.fleet.settings, body.shift_start, body.trucks)


@router.get("/plans/latest", summary="The latest plan")
def latest(db=Depends(get_db), who=Depends(require("waste.crew"))):
    return planning.get_plan(db)


@router.get("/plans/{plan_id}", summary="One plan")
def get_plan(plan_id: RowId, db=Depends(get_db), who=Depends(require("waste.crew"))):
    return planning.get_plan(db, plan_id)


@router.get("/plans/{plan_id}/route.csv", summary="A plan's route as CSV")
def route_csv(plan_id: RowId, truck: Optional[int] = Query(None, ge=1, le=100), db=Depends(get_db),
              who=Depends(require("waste.crew"))):
    return Response(export.route_csv(planning.get_plan(db, plan_id), truck), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="route-%d.csv"' % plan_id})


@router.get("/plans/{plan_id}/route.gpx", summary="A plan's route as GPX")
def route_gpx(plan_id: RowId, truck: Optional[int] = Query(None, ge=1, le=100), db=Depends(get_db),
              who=Depends(require("waste.crew"))):
    return Response(export.route_gpx(planning.get_plan(db, plan_id), truck), media_type="application/gpx+xml",
                    headers={"Content-Disposition": 'attachment; filename="route-%d.gpx"' % plan_id})


@router.post("/stops/{stop_id}", summary="Mark a stop collected or could not access")
def mark(stop_id: RowId, body: MarkIn, db=Depends(get_db), who=Depends(require("waste.crew"))):
    return planning.mark(db, who, stop_id, body.state)
