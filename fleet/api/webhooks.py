"""Admin configuration of the alarm pipeline: outgoing webhooks and escalation policies."""

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from fleet.api.deps import get_db, require, runtime
from fleet.api.schemas import ERROR_RESPONSES, RowId
from fleet.domain import escalation, webhooks

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
WebhookEvent = Literal[webhooks.EVENTS]
GroupName = Annotated[str, Field(pattern=webhooks.GROUP.pattern)]
Site = Path(min_length=1, max_length=64, description="a device site, or '*' for the default policy")


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


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after_s: int = Field(ge=1, le=escalation.MAX_AFTER_S, description="seconds after the alarm was received")
    group: str = Field(pattern=escalation.GROUP.pattern, description="responder group notified at this stage")


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stages: list[Stage] = Field(min_length=1, max_length=escalation.MAX_STAGES)


class PolicyOut(BaseModel):
    site: str
    stages: list[Stage]
    updated_at: Optional[str]
    updated_by: Optional[str]


# ---- webhooks ----------------------------------------------------------------------------

admin = require("webhooks.manage")


@router.get("/webhooks", response_model=list[WebhookOut], tags=["webhooks"], summary="List webhooks")
def list_webhooks(db=Depends(get_db), who=Depends(admin)):
    return webhooks.list_webhooks(db)


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
    if rt.alarms is not None and rt.alarms.webhooks is not None:
        rt.loop.call_soon_threadsafe(rt.alarms.webhooks.wake)
    return {"delivery_id": delivery_id}


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut], tags=["webhooks"],
            summary="Deliveries of a webhook, newest first, with every attempt")
def list_deliveries(webhook_id: RowId, limit: int = Query(50, ge=1, le=1000),
                    state: Optional[Literal[webhooks.STATES]] = None, db=Depends(get_db), who=Depends(admin)):
    return webhooks.list_deliveries(db, webhook_id, limit, state)


# ---- escalation policies --------------------------------------------------------------------

@router.get("/escalation-policies", response_model=list[PolicyOut], tags=["escalation"],
            summary="Escalation policies ('*': the default of sites without their own)")
def list_policies(db=Depends(get_db), who=Depends(require("escalation.read"))):
    return escalation.list_policies(db)


@router.get("/escalation-policies/{site}", response_model=PolicyOut, tags=["escalation"], summary="One site's policy")
def get_policy(site: str = Site, db=Depends(get_db), who=Depends(require("escalation.read"))):
    return escalation.get_policy(db, site)


@router.put("/escalation-policies/{site}", response_model=PolicyOut, tags=["escalation"],
            summary="Set a site's stages (applies to alarms received from now on)")
def set_policy(body: PolicyIn, site: str = Site, db=Depends(get_db), who=Depends(require("escalation.manage"))):
    return escalation.set_policy(db, who, site, [s.model_dump() for s in body.stages])


@router.delete("/escalation-policies/{site}", status_code=204, tags=["escalation"],
               summary="Remove a site's own policy (the default applies again)")
def delete_policy(site: str = Site, db=Depends(get_db), who=Depends(require("escalation.manage"))):
    escalation.delete_policy(db, who, site)
