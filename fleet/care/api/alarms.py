"""The caregiver API: alarms (list, filter, one with its history, acknowledge, resolve) and their
live stream. Shapes are stable: the console, the HIL tests and the latency benchmark read them.

Live stream events (GET /api/v1/live/alarms): `snapshot` (a list of alarms: every open one and
those closed within 24 h, newest first), then one `alarm` event per transition:
{"transition", "alarm_id", "ref", "device_id", "state", "kind", "category", "at", "time", "group",
"stage", "alarm"} - see docs/alarms.md.
"""

from typing import Any, Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from fleet.api.deps import get_db, require, runtime
from fleet.api.schemas import ERROR_RESPONSES, BeforeId, RowId
from fleet.api.sse import sse_response
from fleet.care import alarms

router = APIRouter(prefix="/api/v1", tags=["alarms"], responses=ERROR_RESPONSES)

AlarmState = Literal[alarms.STATES]
Category = Literal[alarms.CATEGORIES]


class Contact(BaseModel):
    name: Optional[str]
    phone: Optional[str]
    relation: Optional[str]


class ResidentBrief(BaseModel):
    id: int
    name: str
    address: Optional[str]
    room: Optional[str]
    contacts: list[Contact]
    notes: Optional[str]


class AlarmOut(BaseModel):
    id: int
    device_id: str
    ref: Optional[str] = Field(description="the device's alarm reference; null for supervision alarms")
    kind: str = Field(description="call (or the device's kind), device_missing, battery_low")
    category: Category
    state: AlarmState
    open: bool
    site: Optional[str]
    raised_at: Optional[str] = Field(description="when the device raised it (device clock); null until a "
                                                 "cancel's alarm arrives")
    received_at: str
    acknowledged_at: Optional[str]
    acknowledged_by: Optional[str]
    resolved_at: Optional[str]
    resolved_by: Optional[str]
    resolution_note: Optional[str]
    cancelled_at: Optional[str]
    cancel_requested_at: Optional[str] = Field(description="the device asked to cancel after acknowledgement")
    battery_v: Optional[float]
    days_left: Optional[int]
    stage: int = Field(description="escalation stages notified so far (0: only the first responders)")
    groups: list[str] = Field(description="responder groups notified so far")
    next_escalation_at: Optional[str]
    updated_at: Optional[str]
    resident: Optional[ResidentBrief] = Field(description="null: no resident assigned to the button")


class HistoryEntry(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    detail: Optional[dict[str, Any]]


class AlarmDetail(AlarmOut):
    history: list[HistoryEntry]


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(max_length=alarms.MAX_NOTE, description="what was done (required)")


@router.get("/alarms", response_model=list[AlarmOut], summary="List alarms, newest first")
def list_alarms(state: Optional[AlarmState] = None, kind: Optional[str] = Query(None, max_length=64),
                category: Optional[Category] = None, device_id: Optional[str] = Query(None, max_length=64),
                site: Optional[str] = Query(None, max_length=64),
                since: Optional[str] = Query(None, max_length=40, description="received at or after (UTC ISO)"),
                open: bool = Query(False, description="only received or acknowledged alarms"),
                limit: int = Query(100, ge=1, le=1000), before_id: BeforeId = None,
                db=Depends(get_db), who=Depends(require("alarms.read"))):
    return alarms.list_alarms(db, state, kind, category, device_id, site, since, open, limit, before_id)


@router.get("/alarms/{alarm_id}", response_model=AlarmDetail, summary="One alarm with its history")
def get_alarm(alarm_id: RowId, db=Depends(get_db), who=Depends(require("alarms.read"))):
    return alarms.get_alarm(db, alarm_id)


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmOut,
             summary="Acknowledge: I am on it (stops escalation; the button shows 'answered')")
async def acknowledge(alarm_id: RowId, rt=Depends(runtime), who=Depends(require("alarms.respond"))):
    return await alarms.respond(rt, lambda tx: alarms.acknowledge(tx, who, alarm_id))


@router.post("/alarms/{alarm_id}/resolve", response_model=AlarmOut, summary="Resolve with a note saying what was done")
async def resolve(alarm_id: RowId, body: ResolveIn, rt=Depends(runtime), who=Depends(require("alarms.respond"))):
    return await alarms.respond(rt, lambda tx: alarms.resolve(tx, who, alarm_id, body.note))


def _snapshot(rt):
    db = rt.connect()
    try:
        return alarms.console_alarms(db)
    finally:
        db.close()


@router.get("/live/alarms", tags=["live"], summary="Server-sent events: every alarm transition as it happens",
            responses={200: {"content": {"text/event-stream": {}}}})
async def alarm_stream(request: Request, rt=Depends(runtime), who=Depends(require("alarms.read"))):
    subscription = rt.hub.subscribe("alarms")
    snapshot = await run_in_threadpool(_snapshot, rt)
    return sse_response(request, subscription, snapshot)

