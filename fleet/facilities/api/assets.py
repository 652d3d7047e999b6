"""The asset registry over HTTP: technicians and admins list, create, edit, import (CSV) and
photograph assets. The public sees assets only through /a/<code> (fleet.facilities.web.pages)."""

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fleet.api.deps import get_db, require, runtime
from fleet.api.schemas import ERROR_RESPONSES, MAX_ID, RowId
from fleet.errors import FleetError, Invalid, NotFound
from fleet.facilities import assets, photos

router = APIRouter(prefix="/api/v1/assets", tags=["assets"], responses=ERROR_RESPONSES)
L = assets.LIMITS
AssetType = Literal[assets.TYPES]
MAX_CSV_BYTES = 4 * 1024 * 1024


class AssetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: AssetType
    code: Optional[str] = Field(None, max_length=20, description="a printed label's code to keep; made if absent")
    name: Optional[str] = Field(None, max_length=L["name"])
    lat: Optional[float] = Field(None, ge=-90, le=90)
    lon: Optional[float] = Field(None, ge=-180, le=180)
    address: Optional[str] = Field(None, max_length=L["address"])
    area: Optional[str] = Field(None, max_length=L["area"])
    maintainer: Optional[str] = Field(None, max_length=L["maintainer"])
    install_date: Optional[str] = Field(None, max_length=10, description="YYYY-MM-DD")
    device_id: Optional[str] = Field(None, max_length=64)
    notes: Optional[str] = Field(None, max_length=L["notes"])
    beacon: Optional[dict[str, int]] = Field(None, description="settings for its beacon: " + ", ".join(assets.BEACON_KEYS))


class AssetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Optional[AssetType] = None
    name: Optional[str] = Field(None, max_length=L["name"])
    lat: Optional[float] = Field(None, ge=-90, le=90)
    lon: Optional[float] = Field(None, ge=-180, le=180)
    address: Optional[str] = Field(None, max_length=L["address"])
    area: Optional[str] = Field(None, max_length=L["area"])
    maintainer: Optional[str] = Field(None, max_length=L["maintainer"])
    install_date: Optional[str] = Field(None, max_length=10)
    device_id: Optional[str] = Field(None, max_length=64)
    notes: Optional[str] = Field(None, max_length=L["notes"])
    beacon: Optional[dict[str, int]] = None


class AssetOut(BaseModel):
    id: int
    code: str
    label: str
    type: str
    name: Optional[str]
    lat: Optional[float]
    lon: Optional[float]
    address: Optional[str]
    area: Optional[str]
    maintainer: Optional[str]
    install_date: Optional[str]
    device_id: Optional[str]
    notes: Optional[str]
    fault: Optional[str]
    fault_since: Optional[str]
    beacon: dict[str, int] = {}
    created_at: str
    created_by: Optional[str]
    updated_at: str
    photos: list[int] = []


class ImportOut(BaseModel):
    created: int
    ids: list[int]


@router.get("", response_model=list[AssetOut], summary="List assets")
def list_assets(type: Optional[AssetType] = None, area: Optional[str] = Query(None, max_length=64),
                q: Optional[str] = Query(None, max_length=100), limit: int = Query(100, ge=1, le=10000),
                offset: int = Query(0, ge=0, le=MAX_ID), db=Depends(get_db), who=Depends(require("assets.read"))):
    return assets.list_assets(db, type, area, q, limit, offset)


@router.post("", status_code=201, response_model=AssetOut, summary="Register an asset (its public code is made)")
def create_asset(body: AssetIn, db=Depends(get_db), who=Depends(require("assets.manage")), rt=Depends(runtime)):
    values = body.model_dump(exclude={"code"}, exclude_none=True)
    made = assets.create_asset(db, who, values, code=body.code)
    _tell(rt, made["device_id"])
    return made


def _tell(rt, *device_ids):
    """After the commit: the devices' cached `down` is stale and their long-polls wake."""
    for device_id in device_ids:
        if device_id:
            rt.device_changed(device_id, downlink=True)


@router.post("/import", response_model=ImportOut, summary="Import assets from CSV (all or nothing)",
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_assets(request: Request, db=Depends(get_db), who=Depends(require("assets.manage"))):
    body = await _capped(request, MAX_CSV_BYTES)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the CSV must be UTF-8 text", code="bad_csv")
    return assets.import_csv(db, who, text)


@router.get("/export.csv", summary="Every asset as CSV (the import's columns)",
            responses={200: {"content": {"text/csv": {}}}})
def export_assets(db=Depends(get_db), who=Depends(require("assets.read"))):
    return Response(assets.export_csv(db), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="assets.csv"'})


@router.get("/by-code/{code}", response_model=AssetOut, summary="The asset with this public code")
def asset_by_code(code: str, db=Depends(get_db), who=Depends(require("assets.read"))):
    import devproto.assetcode as assetcode
    canonical = assetcode.normalise(code)
    rec = assets.by_code(db, canonical) if canonical else None
    if rec is None:
        raise NotFound("no asset has code %r" % code[:40])
    return assets.get_asset(db, rec["id"])


@router.get("/{asset_id}", response_model=AssetOut, summary="One asset")
def get_asset(asset_id: RowId, db=Depends(get_db), who=Depends(require("assets.read"))):
    return assets.get_asset(db, asset_id)


@router.patch("/{asset_id}", response_model=AssetOut, summary="Change an asset")
def update_asset(asset_id: RowId, body: AssetPatch, db=Depends(get_db), who=Depends(require("assets.manage")),
                 rt=Depends(runtime)):
    before = assets.get_asset(db, asset_id)["device_id"]
    changed = assets.update_asset(db, who, asset_id, body.model_dump(exclude_unset=True))
    _tell(rt, before, changed["device_id"])
    return changed


@router.delete("/{asset_id}", status_code=204, summary="Remove an asset that has no history")
def delete_asset(asset_id: RowId, db=Depends(get_db), who=Depends(require("assets.manage"))):
    assets.delete_asset(db, who, asset_id)


@router.post("/{asset_id}/photos", status_code=201, response_model=AssetOut,
             summary="Add a photo (JPEG, PNG or WebP; re-encoded, metadata removed)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 t: {"schema": {"type": "string", "format": "binary"}} for t in photos.TYPES}}})
async def add_photo(asset_id: RowId, request: Request, db=Depends(get_db), who=Depends(require("assets.manage"))):
    data = await _capped(request, photos.MAX_BYTES)
    assets.add_photo(db, who, asset_id, data, request.headers.get("content-type"))
    return assets.get_asset(db, asset_id)


async def _capped(request, limit):
    """The request body, refused (413 too_large) beyond limit bytes, announced or streamed."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge("at most %d bytes" % limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge("at most %d bytes" % limit)
        chunks.append(chunk)
    return b"".join(chunks)


class TooLarge(FleetError):
    code = "too_large"
    status = 413
