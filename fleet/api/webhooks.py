"""Outgoing webhooks (admins): configuration, test pings, deliveries with their attempts. The outbox
is the core's (fleet.domain.webhooks): alarms use it, and capabilities' own events (work orders)."""

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from fleet.api.deps import get_db, require, runtime
from fleet.api.schemas import ERROR_RESPONSES, RowId
from fleet.domain import webhooks

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
# Capabilities register their event types when imported, after this module: the shape is checked
# here, the name against webhooks.EVENTS by the domain (422 for one nobody registered).
WebhookEvent = Annotated[str, Field(pattern=r"^(ping|[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,31})$",
                                    examples=["alarm.raised", "workorder.resolved"],
                                    description="an event type: GET /api/v1/webhooks/events lists them")]
GroupName = Annotated[str, Field(pattern=webhooks.GROUP.pattern)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=webhooks.MAX_URL, examples=["https://pager.example/hooks/fleet"])
    name: Optional[str] = Field(None, max_length=64)
    events: list[WebhookEvent] = Field([], max_length=20, description="empty: every event")
    groups: list[GroupName] = Field([], max_length=20, description="empty: every responder group")
    include_resident: bool = Field(False, description="put the resident's details into payloads")
    secret: Optional[str] = Field(None, min_length=38, max_length=94, pattern=r"^whsec_[A-Za-z0-9+/]+={0,2}$",
                                  description="'whsec_' + base64 of 24-64 random bytes (Standard Webhooks); "
                                              "default: generated (returned once)")


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Optional[str] = Field(None, max_length=webhooks.MAX_URL)
    name: Optional[str] = Field(None, max_length=64)
    events: Optional[list[WebhookEvent]] = Field(None, max_length=20)
    groups: Optional[list[GroupName]] = Field(None, max_length=20)
    include_resident: Optional[bool] = None
    enabled: Optional[bool] = None


class WebhookOut(BaseModel):
    id: int
    name: Optional[str]
    url: str
    events: list[str]
    groups: list[str]
    include_resident: bool
    enabled: bool
    created_at: str
    created_by: Optional[str]
    updated_at: Optional[str]


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret, shown this once")


class Attempt(BaseModel):
    at: str
    status_code: Optional[int]
    error: Optional[str]
    duration_ms: Optional[int]


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    alarm_id: Optional[int]
    event: str
    state: Literal[webhooks.STATES]
    attempts: int
    next_attempt_at: Optional[str]
    last_status: Optional[int]
    last_error: Optional[str]
    created_at: Optional[str]
    delivered_at: Optional[str]
    attempt_log: list[Attempt]


class TestQueued(BaseModel):
    delivery_id: int


# ---- webhooks ----------------------------------------------------------------------------

admin = require("webhooks.manage")


@router.get("/webhooks", response_model=list[WebhookOut], tags=["webhooks"], summary="List webhooks")
def list_webhooks(db=Depends(get_db), who=Depends(admin)):
    return webhooks.list_webhooks(db)


@router.get("/webhooks/events", response_model=list[str], tags=["webhooks"],
            summary="The event types a webhook may subscribe to (the core's and the capabilities')")
def webhook_events(who=Depends(admin)):
    return list(webhooks.EVENTS)


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, tags=["webhooks"],
             summary="Add a webhook (its signing secret is returned once)")
def create_webhook(body: WebhookIn, db=Depends(get_db), rt=Depends(runtime), who=Depends(admin)):
    hook, secret = webhooks.create_webhook(db, rt.box, who, body.url, body.name, body.events, body.groups,
                                           body.include_resident, body.secret)
    return dict(hook, secret=secret)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, tags=["webhooks"], summary="One webhook")
def get_webhook(webhook_id: RowId, db=Depends(get_db), who=Depends(admin)):
    return webhooks.get_webhook(db, webhook_id)


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut, tags=["webhooks"],
              summary="Change a webhook (url, filters, enabled...)")
def update_webhook(webhook_id: RowId, body: WebhookPatch, db=Depends(get_db), who=Depends(admin)):
    return webhooks.update_webhook(db, who, webhook_id, **body.model_dump())


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"],
               summary="Remove a webhook and its delivery records")
def delete_webhook(webhook_id: RowId, db=Depends(get_db), who=Depends(admin)):
    webhooks.delete_webhook(db, who, webhook_id)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=WebhookCreated, tags=["webhooks"],
             summary="A new signing secret (shown once)")
def rotate_secret(webhook_id: RowId, db=Depends(get_db), rt=Depends(runtime), who=Depends(admin)):
    hook, secret = webhooks.rotate_secret(db, rt.box, who, webhook_id)
    return dict(hook, secret=secret)


@router.post("/webhooks/{webhook_id}/test", status_code=202, response_model=TestQueued, tags=["webhooks"],
             summary="Queue a `ping` delivery")
def send_test(webhook_id: RowId, db=Depends(get_db), rt=Depends(runtime), who=Depends(admin)):
    delivery_id = webhooks.send_test(db, who, webhook_id)
    if rt.webhooks is not None:
        rt.loop.call_soon_threadsafe(rt.webhooks.wake)
    return {"delivery_id": delivery_id}


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut], tags=["webhooks"],
            summary="Deliveries of a webhook, newest first, with every attempt")
def list_deliveries(webhook_id: RowId, limit: int = Query(50, ge=1, le=1000),
                    state: Optional[Literal[webhooks.STATES]] = None, db=Depends(get_db), who=Depends(admin)):
    return webhooks.list_deliveries(db, webhook_id, limit, state)
