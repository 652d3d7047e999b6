"""Provisioning runs over HTTP: the technician's tool posts each board's run; technicians read
their runs, the boards awaiting their first hello and the failures (admins: everyone's)."""

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES, MAX_ID, DeviceRole, RowId
from fleet.provisioning import runs

router = APIRouter(prefix="/api/v1/provisioning", tags=["provisioning"], responses=ERROR_RESPONSES)
Short = Field(None, max_length=64)


class RunIn(BaseModel):
    """What `provision` reports about one board (provisioning/flow.py provision_board)."""
    model_config = ConfigDict(extra="forbid")
    started_at: Optional[str] = Field(None, max_length=40,
                                      pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$",
                                      description="ISO time (UTC) the run started, by the laptop's clock "
                                                  "(default: when the fleet receives the report)")
    ok: bool = Field(description="flashed, started and (when enrolled) said hello")
    port: Optional[str] = Field(None, max_length=200)
    mac: Optional[str] = Field(None, pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
    hw_id: Optional[str] = Field(None, pattern=r"^[0-9a-f]{12}$")
    role: Optional[DeviceRole] = None
    board: Optional[str] = Short
    site: Optional[str] = Short
    firmware: Optional[str] = Field(None, max_length=100)
    device_id: Optional[str] = Short
    token_id: Optional[int] = Field(None, ge=1, le=MAX_ID, description="the enrollment token's id (never the token)")
    code: Optional[str] = Field(None, max_length=40, pattern=r"^[a-z_]+$", description="the tool's error code")
    stage: Optional[str] = Field(None, max_length=20, pattern=r"^[a-z_]+$")
    error: Optional[str] = Field(None, max_length=1000)
    fix: Optional[str] = Field(None, max_length=1000)
    seconds: Optional[float] = Field(None, ge=0, le=86400)
    stages: Optional[dict[str, float]] = Field(None, max_length=20, description="seconds per stage")


class RunOut(BaseModel):
    id: int
    technician: str
    received_at: str
    started_at: str
    ok: bool
    port: Optional[str]
    mac: Optional[str]
    hw_id: Optional[str]
    role: Optional[str]
    board: Optional[str]
    site: Optional[str]
    firmware: Optional[str]
    device_id: Optional[str]
    token_id: Optional[int]
    code: Optional[str]
    stage: Optional[str]
    error: Optional[str]
    fix: Optional[str]
    seconds: Optional[float]
    stages: dict[str, float]
    hello_since: bool = Field(description="the device said hello after this run started")
    resolved: bool = Field(description="ok, or the board was provisioned again or said hello since")
    why: Optional[Literal[runs.WHY]] = Field(description="why a board that failed still waits for its hello")


class SummaryOut(BaseModel):
    runs: int
    ok: int
    failed: int
    open: int
    awaiting: int


Technician = Query(None, max_length=64, description="admins: one technician's runs")


@router.post("/runs", status_code=201, response_model=RunOut, summary="Report a provisioning run (the `provision` tool)")
def report_run(body: RunIn, db=Depends(get_db), who=Depends(require("provisioning.report"))):
    return runs.record(db, who, body.model_dump())


@router.get("/runs", response_model=list[RunOut], summary="Provisioning runs, newest first (technicians: their own)")
def list_runs(result: Optional[Literal["ok", "failed", "open"]] = Query(None, description="open: failures not resolved"),
              technician: Optional[str] = Technician, limit: int = Query(100, ge=1, le=1000),
              offset: int = Query(0, ge=0, le=10 ** 9), db=Depends(get_db), who=Depends(require("provisioning.read"))):
    return runs.list_runs(db, who, result, technician, limit, offset)


@router.get("/runs/{run_id}", response_model=RunOut, summary="One provisioning run")
def get_run(run_id: RowId, db=Depends(get_db), who=Depends(require("provisioning.read"))):
    return runs.get_run(db, who, run_id)


@router.get("/awaiting", response_model=list[RunOut], summary="Boards flashed and started that have not said hello")
def awaiting(technician: Optional[str] = Technician, db=Depends(get_db), who=Depends(require("provisioning.read"))):
    return runs.awaiting_hello(db, who, technician)


@router.get("/summary", response_model=SummaryOut, summary="Counts of runs, failures and boards awaiting hello")
def summary(technician: Optional[str] = Technician, db=Depends(get_db), who=Depends(require("provisioning.read"))):
    return runs.summary(db, who, technician)
