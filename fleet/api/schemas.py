"""Pydantic models of the HTTP API: what the OpenAPI schema promises (and the fuzz checks)."""

from typing import Annotated, Any, Literal, Optional

import devproto
from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from fleet.domain.users import ROLES

Role = Literal[ROLES]
DeviceRole = Literal[devproto.ROLES]
MAX_ID = 2 ** 63 - 1          # SQLite's INTEGER: larger numbers are refused before they reach it
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
BeforeId = Annotated[Optional[int], Query(ge=1, le=MAX_ID)]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
    time: float


def _errors(*statuses):
    return {s: {"model": ErrorBody, "description": "error"} for s in statuses}


ERROR_RESPONSES = _errors(400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500)


# ---- device protocol -------------------------------------------------------

class Down(BaseModel):
    model_config = ConfigDict(extra="allow")
    cursor: int
    config_version: int
    config: Optional[dict[str, int]] = None
    commands: list[dict[str, Any]] = []
    update: Any = None


class EnrollOut(BaseModel):
    device_id: str
    secret: str
    config_version: int
    config: dict[str, int]
    time: float


class HelloOut(BaseModel):
    device_id: str
    ack: int
    down: Down
    time: float


class EventsOut(BaseModel):
    ack: int
    stored: int
    duplicates: int
    down: Down
    time: float


class PollOut(BaseModel):
    down: Down
    time: float


# ---- people and access -----------------------------------------------------

class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class Me(BaseModel):
    username: str
    role: str
    via: str


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    created_at: Optional[str]
    disabled: int


class UserCreate(BaseModel):
    username: str = Field(max_length=32)
    role: Role
    password: str = Field(max_length=256)


class UserUpdate(BaseModel):
    role: Optional[Role] = None
    disabled: Optional[bool] = None


class PasswordIn(BaseModel):
    password: str = Field(max_length=256)


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    user_id: Optional[int] = Field(None, ge=1, le=MAX_ID, description="admins only: a token for another user")


class TokenOut(BaseModel):
    id: int
    user_id: int
    username: str
    name: Optional[str]
    prefix: str
    created_at: Optional[str]
    last_used_at: Optional[str]
    revoked_at: Optional[str]


class TokenCreated(TokenOut):
    token: str = Field(description="shown this once")


class EnrollTokenCreate(BaseModel):
    expires_in_s: int = Field(86400, ge=1, le=90 * 24 * 3600)
    count: int = Field(1, ge=1, le=500)
    role: Optional[DeviceRole] = None
    board: Optional[str] = Field(None, min_length=1, max_length=devproto.ENROLL_FIELD_MAX)
    site: Optional[str] = Field(None, min_length=1, max_length=devproto.ENROLL_FIELD_MAX)


class EnrollTokenOut(BaseModel):
    id: int
    prefix: str
    role: Optional[str]
    board: Optional[str]
    site: Optional[str]
    created_by: Optional[str]
    created_at: Optional[str]
    expires_at: str
    used_at: Optional[str]
    device_id: Optional[str]
    revoked_at: Optional[str]
    state: Literal["valid", "used", "expired", "revoked"]


class EnrollTokenCreated(EnrollTokenOut):
    token: str = Field(description="shown this once")


# ---- devices ---------------------------------------------------------------

class DeviceOut(BaseModel):
    id: str
    hw_id: str
    role: str
    board: Optional[str]
    site: Optional[str]
    status: str
    status_changed_at: Optional[str]
    last_seen: Optional[str]
    last_hello: Optional[str]
    enrolled_at: Optional[str]
    revoked_at: Optional[str]
    generation: int
    config_version: int
    reported_cv: Optional[int]
    cursor: int
    fw: Optional[str]
    app: Optional[str]
    slot: Optional[str]
    reset_cause: Optional[str]
    wake_reason: Optional[str]
    heap_free: Optional[int]
    rssi: Optional[int]
    config: Optional[dict[str, int]]
    hello_errors: list[str]
    tags: list[str] = Field(description="the device's tags, sorted (fleet.domain.tags)")


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[str] = Field(max_length=64, examples=[["floor-3", "pilot"]],
                            description="tags: 1-32 of a-z 0-9 - _ : each, starting with a letter or digit; "
                                        "at most 16 on a device")


class RevokeIn(BaseModel):
    reason: Optional[str] = Field(None, max_length=200)


class RotateOut(BaseModel):
    device: DeviceOut
    secret: str = Field(description="the new secret, shown this once")


class CommandIn(BaseModel):
    name: Literal[devproto.COMMANDS]
    args: dict[str, Any] = {}


class CommandOut(BaseModel):
    id: int
    device_id: str
    name: str
    args: dict[str, Any]
    status: str
    detail: Optional[str]
    created_at: str
    created_by: Optional[str]
    done_at: Optional[str]


class EventOut(BaseModel):
    id: int
    device_id: str
    generation: int
    stream: int
    seq: int
    type: str
    t_device: int
    at: str
    received_at: str
    data: dict[str, Any]


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: Optional[str]
    detail: Optional[Any]
    ip: Optional[str]


class Health(BaseModel):
    status: Literal["ok"]
    schema_version: int
    devices: int
    commits: int
    live_subscribers: int
