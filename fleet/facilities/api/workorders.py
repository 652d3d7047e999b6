"""Work orders, teams, routing, handling tracking and Open311 app keys over HTTP.

A technician's update (POST .../actions) carries an idempotency key, so the technician view can
queue updates while offline and replay them: each is applied once. Transitions run in the
group-commit writer (fleet.facilities.workorders.act); a resolution photo is re-encoded first,
in a worker thread.
"""

import base64
import binascii
import hashlib
import secrets
from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from fleet.api.deps import get_db, require, runtime
from fleet.api.schemas import ERROR_RESPONSES, RowId
from fleet.core import clock
from fleet.domain import audit
from fleet.errors import Invalid, NotFound
from fleet.facilities import assets, photos, workorders
from fleet.store.db import rows, write_tx

router = APIRouter(tags=["work orders"], responses=ERROR_RESPONSES)
State = Literal[workorders.STATES]
Action = Literal[workorders.ACTIONS]


class HistoryOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    detail: Optional[dict]


class WorkOrderOut(BaseModel):
    id: int
    asset_id: Optional[int]
    category: str
    source: str
    state: str
    team: Optional[str]
    assignee: Optional[str]
    opened_at: str
    assigned_at: Optional[str]
    started_at: Optional[str]
    resolved_at: Optional[str]
    closed_at: Optional[str]
    rejected_at: Optional[str]
    resolution_note: Optional[str]
    resolution_photo_id: Optional[int]
    reject_reason: Optional[str]
    due_at: Optional[str]
    sla_stage: int
    updated_at: str
    open: bool
    overdue: bool
    reports: int
    asset_code: Optional[str] = None
    asset_type: Optional[str] = None
    asset_name: Optional[str] = None
    asset_address: Optional[str] = None
    asset_lat: Optional[float] = None
    asset_lon: Optional[float] = None
    asset_area: Optional[str] = None
    history: Optional[list[HistoryOut]] = None
    replayed: bool = False


class PhotoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=40, description="image/jpeg, image/png or image/webp")
    data: str = Field(max_length=7_000_000, description="base64 of the image (at most 5 MB)")


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    note: Optional[str] = Field(None, max_length=workorders.MAX_NOTE)
    reason: Optional[str] = Field(None, max_length=workorders.MAX_NOTE)
    team: Optional[str] = Field(None, max_length=32)
    assignee: Optional[str] = Field(None, max_length=32)
    idem_key: Optional[str] = Field(None, max_length=80, description="makes a replayed update harmless")
    photo: Optional[PhotoIn] = None


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Optional[str] = Field(None, max_length=100)
    escalate_to: Optional[str] = Field(None, max_length=32, description="group told when an order is overdue")
    members: list[str] = Field([], max_length=200)


class TeamOut(BaseModel):
    name: str
    title: Optional[str]
    escalate_to: Optional[str]
    members: list[str]


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset_type: str = Field(max_length=20, description="an asset type or '*'")
    area: str = Field(max_length=64, description="an area or '*'")
    team: str = Field(max_length=32)


class RouteOut(BaseModel):
    asset_type: str
    area: str
    team: str


class TrackingRow(BaseModel):
    week: str
    category: str
    reports: int
    opened: int
    closed: int
    rejected: int
    median_h: Optional[float]
    p90_h: Optional[float]
    overdue: int


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: str
    created_by: Optional[str]
    revoked_at: Optional[str]
    api_key: Optional[str] = Field(None, description="shown once, at creation")


@router.get("/api/v1/workorders", response_model=list[WorkOrderOut], summary="List work orders, newest first")
def list_work_orders(state: Optional[State] = None, team: Optional[str] = Query(None, max_length=32),
                     open: bool = False, mine: bool = False, asset: Optional[str] = Query(None, max_length=20),
                     limit: int = Query(200, ge=1, le=2000), db=Depends(get_db), who=Depends(require("workorders.read"))):
    asset_id = None
    if asset is not None:
        import devproto.assetcode as assetcode
        rec = assets.by_code(db, assetcode.normalise(asset) or asset)
        if rec is None:
            raise NotFound("no asset has code %r" % asset)
        asset_id = rec["id"]
    return workorders.list_work_orders(db, state, team, open, asset_id, limit, teams_of=who if mine else None)


@router.get("/api/v1/workorders/{wo_id}", response_model=WorkOrderOut, summary="One work order and its history")
def get_work_order(wo_id: RowId, db=Depends(get_db), who=Depends(require("workorders.read"))):
    return workorders.get_work_order(db, wo_id)


@router.post("/api/v1/workorders/{wo_id}/actions", response_model=WorkOrderOut,
             summary="Take, start, resolve (note, photo), close, reject (reason), note, assign")
async def act(wo_id: RowId, body: ActionIn, rt=Depends(runtime), who=Depends(require("workorders.act"))):
    photo = None
    if body.photo is not None:
        try:
            data = base64.b64decode(body.photo.data, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("photo.data must be base64", code="photo_unreadable")
        photo = await run_in_threadpool(photos.reencode, data, body.photo.type)
    return await rt.writer.call(lambda tx: workorders.act(
        tx, who, wo_id, body.action, note=body.note, reason=body.reason, team=body.team, assignee=body.assignee,
        photo=photo, idem_key=body.idem_key))


@router.get("/api/v1/facilities/teams", response_model=list[TeamOut], summary="Teams of technicians")
def list_teams(db=Depends(get_db), who=Depends(require("workorders.read"))):
    return workorders.list_teams(db)


@router.put("/api/v1/facilities/teams/{name}", response_model=TeamOut, summary="Create or change a team")
async def save_team(name: str, body: TeamIn, rt=Depends(runtime), who=Depends(require("workorders.manage"))):
    return await rt.writer.call(lambda tx: workorders.save_team(tx, who, name, body.title, body.escalate_to,
                                                                body.members))


@router.get("/api/v1/facilities/routes", response_model=list[RouteOut], summary="Which team gets which assets")
def list_routes(db=Depends(get_db), who=Depends(require("workorders.read"))):
    return workorders.list_routes(db)


@router.put("/api/v1/facilities/routes", response_model=RouteOut, summary="Route assets of a type and area to a team")
async def set_route(body: RouteIn, rt=Depends(runtime), who=Depends(require("workorders.manage"))):
    return await rt.writer.call(lambda tx: workorders.set_route(tx, who, body.asset_type, body.area, body.team))


@router.get("/api/v1/facilities/tracking", response_model=list[TrackingRow],
            summary="Handling per ISO week and category: reports, opened, closed, median/p90 hours, overdue")
def tracking(db=Depends(get_db), who=Depends(require("facilities.tracking"))):
    return workorders.tracking(db)


@router.get("/api/v1/facilities/tracking.csv", summary="The handling table as CSV",
            responses={200: {"content": {"text/csv": {}}}})
def tracking_csv(db=Depends(get_db), who=Depends(require("facilities.tracking"))):
    return Response(workorders.tracking_csv(db), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="handling.csv"'})


@router.get("/api/v1/facilities/overdue", response_model=list[WorkOrderOut], summary="Open work orders past their SLA")
def overdue(db=Depends(get_db), who=Depends(require("facilities.tracking"))):
    return workorders.overdue(db)


@router.get("/api/v1/facilities/open311-keys", response_model=list[KeyOut], summary="Open311 app keys")
def list_keys(db=Depends(get_db), who=Depends(require("workorders.manage"))):
    return rows(db, "SELECT id, name, prefix, created_at, created_by, revoked_at FROM open311_keys ORDER BY id")


@router.post("/api/v1/facilities/open311-keys", status_code=201, response_model=KeyOut,
             summary="A new Open311 api_key for an app (shown once)")
def create_key(body: KeyIn, db=Depends(get_db), who=Depends(require("workorders.manage"))):
    key = "o311_" + secrets.token_urlsafe(24)
    with write_tx(db):
        cur = db.conn.execute("INSERT INTO open311_keys (name, key_hash, prefix, created_at, created_by) VALUES "
                              "(?, ?, ?, ?, ?)", (body.name, hashlib.sha256(key.encode()).hexdigest(), key[:9],
                                                  clock.iso(), str(who)))
        audit.record(db, who, "open311_key.create", "open311_key:%d" % cur.lastrowid, {"name": body.name})
    found = rows(db, "SELECT id, name, prefix, created_at, created_by, revoked_at FROM open311_keys WHERE id = ?",
                 (cur.lastrowid,))[0]
    return dict(found, api_key=key)


@router.delete("/api/v1/facilities/open311-keys/{key_id}", status_code=204, summary="Revoke an Open311 app key")
def revoke_key(key_id: RowId, db=Depends(get_db), who=Depends(require("workorders.manage"))):
    with write_tx(db):
        if db.conn.execute("UPDATE open311_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           (clock.iso(), key_id)).rowcount == 0:
            raise NotFound("no active Open311 key %d" % key_id)
        audit.record(db, who, "open311_key.revoke", "open311_key:%d" % key_id)
