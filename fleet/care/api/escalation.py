"""Escalation policies: who is notified, stage by stage, when an alarm stays unacknowledged
(caregivers read them, admins change them)."""

from typing import Optional

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES
from fleet.care import escalation

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Site = Path(min_length=1, max_length=64, description="a device site, or '*' for the default policy")


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
