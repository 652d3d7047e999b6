"""The OTA admin API: release keys, releases (upload: a signed envelope and its artifact),
rollouts (start, one with its devices and history, pause / resume / abort) and their live stream.
Logic is in fleet/ota/releases.py and rollouts.py; docs/ota.md."""

from typing import Any, Literal, Optional

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from fleet.api.deps import get_db, require, runtime
from fleet.api.schemas import ERROR_RESPONSES, RowId
from fleet.api.sse import sse_response
from fleet.errors import Invalid
from fleet.ota import releases, rollouts
from fleet.ota.service import brief

router = APIRouter(prefix="/api/v1", tags=["ota"], responses=ERROR_RESPONSES)
MAX_ARTIFACT = 4 * 1024 * 1024          # an app bundle (~60 KB) or an image for a 1.5 MiB partition


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pem: str = Field(min_length=1, max_length=4000, description="the public key (.pub.pem)")


class KeyOut(BaseModel):
    id: str
    added_at: Optional[str]
    added_by: Optional[str]
    revoked_at: Optional[str]
    revoked_by: Optional[str] = None


class ReleaseOut(BaseModel):
    id: str
    kind: str
    version: Optional[str]
    sv: Optional[int]
    boards: list[str]
    roles: list[str]
    size: Optional[int]
    sha256: Optional[str]
    key_id: str
    expires_at: str
    created_at: str
    uploaded_at: str
    uploaded_by: str
    devices: int = Field(description="devices that report running this version")
    manifest: dict[str, Any]


class RolloutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release_id: str = Field(min_length=1, max_length=80)
    name: Optional[str] = Field(None, max_length=80)
    target: dict[str, list[str]] = Field({}, description="roles, boards, sites, versions (the version a device runs "
                                                         "now), devices (ids): a device must be among each list given; "
                                                         "tags: it must have all of them (absent: any)",
                                         examples=[{"roles": ["call_button"], "tags": ["floor-3", "pilot"]}])
    plan: dict[str, Any] = Field({}, description="phases, success, abort, rate_per_min, device_timeout_s, penalty, "
                                                 "windows, gate_s (absent: the defaults, docs/ota.md)")


class ControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Optional[str] = Field(None, max_length=200)


class PhaseOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    index: int
    name: str
    total: int
    succeeded: int
    failed: int
    in_progress: int
    waiting: int


class RolloutOut(BaseModel):
    id: int
    release_id: str
    name: str
    state: Literal[rollouts.STATES]
    phase: int
    reason: Optional[str]
    target: dict[str, Any]
    plan: dict[str, Any]
    created_at: str
    created_by: str
    updated_at: Optional[str]
    finished_at: Optional[str]
    phases: list[PhaseOut]


class RolloutDevice(BaseModel):
    device_id: str
    phase: int
    state: str
    reason: Optional[str]
    progress: Optional[int]
    from_version: Optional[str]
    offered_at: Optional[str]
    updated_at: Optional[str]
    finished_at: Optional[str]


class HistoryEntry(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    detail: Optional[dict[str, Any]]


class RolloutDetail(RolloutOut):
    devices: list[RolloutDevice]
    history: list[HistoryEntry]


@router.get("/ota/keys", response_model=list[KeyOut], summary="Release keys the fleet trusts (or revoked)")
def list_keys(db=Depends(get_db), who=Depends(require("ota.read"))):
    return releases.list_keys(db)


@router.post("/ota/keys", status_code=201, response_model=KeyOut, summary="Trust a release key (public key PEM)")
def trust_key(body: KeyIn, db=Depends(get_db), who=Depends(require("ota.release"))):
    kid = releases.trust_key(db, who, body.pem.encode())
    return [k for k in releases.list_keys(db) if k["id"] == kid][0]


@router.get("/ota/releases", response_model=list[ReleaseOut], summary="Releases: manifest, size, signer, devices")
def list_releases(db=Depends(get_db), who=Depends(require("ota.read"))):
    return releases.list_releases(db)


@router.get("/ota/releases/{release_id}", response_model=ReleaseOut, summary="One release")
def get_release(release_id: str, db=Depends(get_db), who=Depends(require("ota.read"))):
    return releases.get_release(db, release_id)


@router.post("/ota/releases", status_code=201, response_model=ReleaseOut,
             summary="Upload a signed release: the envelope (manifest.signed.json) and the artifact")
def upload_release(request: Request, envelope: UploadFile = File(...), artifact: Optional[UploadFile] = File(None),
                   db=Depends(get_db), who=Depends(require("ota.release"))):
    text = envelope.file.read(64 * 1024 + 1)
    if len(text) > 64 * 1024:
        raise Invalid("the envelope is larger than 64 KB: is it manifest.signed.json?")
    data = None
    if artifact is not None:
        data = artifact.file.read(MAX_ARTIFACT + 1)
        if len(data) > MAX_ARTIFACT:
            raise Invalid("the artifact is larger than %d bytes" % MAX_ARTIFACT)
    try:
        envelope_text = text.decode()
    except UnicodeDecodeError:
        raise Invalid("the envelope is not text: is it manifest.signed.json?")
    return releases.upload(db, request.app.state.fleet.settings, who, envelope_text, data)


@router.get("/ota/rollouts", response_model=list[RolloutOut], summary="Rollouts, newest first")
def list_rollouts(db=Depends(get_db), who=Depends(require("ota.read"))):
    return rollouts.list_rollouts(db)


@router.post("/ota/rollouts", status_code=201, response_model=RolloutDetail, summary="Start a rollout")
def start_rollout(body: RolloutIn, request: Request, db=Depends(get_db), who=Depends(require("ota.rollout"))):
    r = rollouts.create(db, who, body.release_id, body.target, body.plan, body.name)
    _poke(request)
    return r


@router.get("/ota/rollouts/{rollout_id}", response_model=RolloutDetail, summary="One rollout: phases, devices, history")
def get_rollout(rollout_id: RowId, db=Depends(get_db), who=Depends(require("ota.read"))):
    return rollouts.get_rollout(db, rollout_id)


@router.post("/ota/rollouts/{rollout_id}/{action}", response_model=RolloutDetail,
             summary="Pause, resume (or approve the next phase) or abort a rollout")
def control_rollout(rollout_id: RowId, action: Literal["pause", "resume", "abort"], request: Request,
                    body: Optional[ControlIn] = None, db=Depends(get_db), who=Depends(require("ota.rollout"))):
    changed = rollouts.control(db, who, rollout_id, action, body.reason if body else None)
    rt = request.app.state.fleet
    if changed:
        rt.loop.call_soon_threadsafe(rt.downlink.notify, changed)
    rt.hub.publish("ota", "rollout", brief(db, rollout_id))
    _poke(request)
    return rollouts.get_rollout(db, rollout_id)


def _poke(request):
    rt = request.app.state.fleet
    service = rt.services.get("ota")
    if service is not None:
        rt.loop.call_soon_threadsafe(service.poke)


def _snapshot(rt):
    db = rt.connect()
    try:
        return [brief(db, r["id"]) for r in rollouts.list_rollouts(db, limit=50)]
    finally:
        db.close()


@router.get("/live/ota", tags=["live"], summary="Server-sent events: rollouts and devices' update progress",
            responses={200: {"content": {"text/event-stream": {}}}})
async def ota_stream(request: Request, rt=Depends(runtime), who=Depends(require("ota.read"))):
    subscription = rt.hub.subscribe("ota")
    snapshot = await run_in_threadpool(_snapshot, rt)
    return sse_response(request, subscription, snapshot)
