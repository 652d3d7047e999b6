"""Bins: the registry, CSV import, fill history with the forecast, maintenance, FIWARE export."""

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES
from fleet.errors import Invalid
from fleet.waste import bins, forecast, ngsi

router = APIRouter(prefix="/api/v1/bins", tags=["bins"], responses=ERROR_RESPONSES)
BinId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
MAX_CSV = 4 * 1024 * 1024


class BinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: Optional[str] = Field(None, max_length=100)
    lat: Optional[float] = Field(None, ge=-90, le=90)
    lon: Optional[float] = Field(None, ge=-180, le=180)
    capacity_l: int = Field(ge=10, le=100000)
    waste_type: Literal[bins.WASTE_TYPES]
    depth_mm: int = Field(ge=200, le=3000)
    threshold_pct: int = Field(bins.DEFAULT_THRESHOLD, ge=10, le=100)
    area: Optional[str] = Field(None, max_length=100)
    device_id: Optional[str] = Field(None, max_length=64)


def history(db, bin_id, days=56):
    return [(t, p) for t, p in db.conn.execute(
        "SELECT t, pct FROM bin_fills WHERE bin_id = ? AND pct IS NOT NULL AND t >= "
        "(SELECT coalesce(max(t), 0) FROM bin_fills WHERE bin_id = ?) - ? ORDER BY t", (bin_id, bin_id, days * 86400))]


def with_forecast(db, b):
    b = dict(b)
    b["forecast"] = forecast.forecast(history(db, b["id"]), b["threshold_pct"])
    return b


@router.get("", summary="List bins with their latest fill (and forecast with forecast=true)")
def list_bins(area: Optional[str] = Query(None, max_length=100), with_fc: bool = Query(False, alias="forecast"),
              limit: int = Query(5000, ge=1, le=20000), offset: int = Query(0, ge=0, le=10 ** 9),
              db=Depends(get_db), who=Depends(require("bins.read"))):
    found = bins.list_bins(db, area, limit, offset)
    return [with_forecast(db, b) for b in found] if with_fc else found


@router.post("", status_code=201, summary="Add a bin")
def create_bin(body: BinIn, db=Depends(get_db), who=Depends(require("bins.manage"))):
    return bins.save(db, who, body.model_dump(), create=True)


@router.post("/import", summary="Import bins from CSV (all or nothing; errors by line)",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}},
                                            "required": True}})
async def import_bins(request: Request, db=Depends(get_db), who=Depends(require("bins.manage"))):
    raw = await request.body()
    if len(raw) > MAX_CSV:
        raise Invalid("CSV larger than %d bytes" % MAX_CSV)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("CSV must be UTF-8")
    return {"imported": bins.import_csv(db, who, text)}


@router.get("/maintenance", summary="Open maintenance: tilted, sensor faults, not reporting")
def maintenance(db=Depends(get_db), who=Depends(require("bins.read"))):
    open_rows = [dict(zip(("id", "bin_id", "kind", "detail", "opened_at"), r)) for r in db.conn.execute(
        "SELECT id, bin_id, kind, detail, opened_at FROM waste_maintenance WHERE closed_at IS NULL ORDER BY id")]
    for bin_id, status, changed in db.conn.execute(
            "SELECT b.id, d.status, d.status_changed_at FROM bins b JOIN devices d ON d.id = b.device_id "
            "WHERE d.status IN ('offline', 'never_seen') ORDER BY b.id"):
        open_rows.append({"id": None, "bin_id": bin_id, "kind": "not_reporting", "detail": status,
                          "opened_at": changed})
    return open_rows


@router.get("/ngsi-ld", summary="Every bin as a FIWARE WasteContainer (NGSI-LD)")
def ngsi_export(db=Depends(get_db), who=Depends(require("bins.read"))):
    return [ngsi.entity(b, with_forecast(db, b)["forecast"]) for b in bins.list_bins(db)]


@router.get("/{bin_id}", summary="One bin: its state, forecast and fill history")
def get_bin(bin_id: BinId, days: int = Query(14, ge=1, le=56), db=Depends(get_db),
            who=Depends(require("bins.read"))):
    b = with_forecast(db, bins.get(db, bin_id))
    b["history"] = [{"t": t, "pct": p} for t, p in history(db, bin_id, days)]
    return b


@router.put("/{bin_id}", summary="Change a bin")
def update_bin(bin_id: BinId, body: BinIn, db=Depends(get_db), who=Depends(require("bins.manage"))):
    if body.id != bin_id:
        raise Invalid("the body's id must be the bin's (%s)" % bin_id)
    return bins.save(db, who, body.model_dump(), create=False)


@router.delete("/{bin_id}", status_code=204, summary="Remove a bin")
def delete_bin(bin_id: BinId, db=Depends(get_db), who=Depends(require("bins.manage"))):
    bins.delete(db, who, bin_id)
