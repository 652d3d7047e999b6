"""Residents (caregivers and admins only): who is behind a call button, and assigning buttons."""

from typing import Optional

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES, MAX_ID, RowId
from fleet.care import residents

router = APIRouter(prefix="/api/v1/residents", tags=["residents"], responses=ERROR_RESPONSES)
L = residents.LIMITS
C = residents.CONTACT_LIMITS


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Optional[str] = Field(None, max_length=C["name"])
    phone: Optional[str] = Field(None, max_length=C["phone"])
    relation: Optional[str] = Field(None, max_length=C["relation"])


class ContactOut(BaseModel):
    name: Optional[str]
    phone: Optional[str]
    relation: Optional[str]


class ResidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=L["name"])
    address: Optional[str] = Field(None, max_length=L["address"])
    room: Optional[str] = Field(None, max_length=L["room"])
    contacts: list[ContactIn] = Field([], max_length=residents.MAX_CONTACTS)
    notes: Optional[str] = Field(None, max_length=L["notes"])


class ResidentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Optional[str] = Field(None, min_length=1, max_length=L["name"])
    address: Optional[str] = Field(None, max_length=L["address"])
    room: Optional[str] = Field(None, max_length=L["room"])
    contacts: Optional[list[ContactIn]] = Field(None, max_length=residents.MAX_CONTACTS)
    notes: Optional[str] = Field(None, max_length=L["notes"])


class ResidentOut(BaseModel):
    id: int
    name: str
    address: Optional[str]
    room: Optional[str]
    contacts: list[ContactOut]
    notes: Optional[str]
    created_at: str
    updated_at: str
    devices: list[str] = Field(description="call buttons assigned to this resident")


def _contacts(items):
    return None if items is None else [c.model_dump() for c in items]


@router.get("", response_model=list[ResidentOut], summary="List residents")
def list_residents(limit: int = Query(1000, ge=1, le=10000), offset: int = Query(0, ge=0, le=MAX_ID),
                   db=Depends(get_db), who=Depends(require("residents.read"))):
    return residents.list_residents(db, limit, offset)


@router.post("", status_code=201, response_model=ResidentOut, summary="Add a resident")
def create_resident(body: ResidentIn, db=Depends(get_db), who=Depends(require("residents.manage"))):
    return residents.create_resident(db, who, body.name, body.address, body.room, _contacts(body.contacts), body.notes)


@router.get("/{resident_id}", response_model=ResidentOut, summary="One resident")
def get_resident(resident_id: RowId, db=Depends(get_db), who=Depends(require("residents.read"))):
    return residents.get_resident(db, resident_id)


@router.patch("/{resident_id}", response_model=ResidentOut, summary="Change a resident's details")
def update_resident(resident_id: RowId, body: ResidentPatch, db=Depends(get_db),
                    who=Depends(require("residents.manage"))):
    return residents.update_resident(db, who, resident_id, name=body.name, address=body.address, room=body.room,
                                     contacts=_contacts(body.contacts), notes=body.notes)


@router.delete("/{resident_id}", status_code=204, summary="Forget a resident (unassigns their buttons)")
def delete_resident(resident_id: RowId, db=Depends(get_db), who=Depends(require("residents.manage"))):
    residents.delete_resident(db, who, resident_id)


@router.put("/{resident_id}/devices/{device_id}", response_model=ResidentOut,
            summary="Assign a call button to this resident (replaces its earlier assignment)")
def assign(resident_id: RowId, device_id: str, db=Depends(get_db), who=Depends(require("residents.manage"))):
    return residents.assign(db, who, resident_id, device_id)


@router.delete("/{resident_id}/devices/{device_id}", response_model=ResidentOut, summary="Unassign a call button")
def unassign(resident_id: RowId, device_id: str, db=Depends(get_db), who=Depends(require("residents.manage"))):
    return residents.unassign(db, who, resident_id, device_id)
