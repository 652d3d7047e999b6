"""API tokens for tools: each user manages their own; admins see and revoke everyone's."""

from fastapi import APIRouter, Depends

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES, RowId, TokenCreate, TokenCreated, TokenOut
from fleet.core.permissions import allowed
from fleet.domain import credentials
from fleet.errors import Forbidden

router = APIRouter(prefix="/api/v1/tokens", tags=["API tokens"], responses=ERROR_RESPONSES)
own = require("tokens.own")


def _may_touch(who, user_id):
    if user_id != who.user_id and not allowed(who.role, "tokens.all"):
        raise Forbidden("only admins manage other users' tokens")


@router.get("", response_model=list[TokenOut], summary="List API tokens (yours; admins: all)")
def list_tokens(db=Depends(get_db), who=Depends(own)):
    return credentials.list_tokens(db, None if allowed(who.role, "tokens.all") else who.user_id)


@router.post("", status_code=201, response_model=TokenCreated, summary="Create an API token (shown once)")
def create_token(body: TokenCreate, db=Depends(get_db), who=Depends(own)):
    user_id = body.user_id if body.user_id is not None else who.user_id
    _may_touch(who, user_id)
    token_row, token = credentials.create_token(db, who, user_id, body.name)
    return dict(token_row, token=token)


@router.delete("/{token_id}", response_model=TokenOut, summary="Revoke an API token")
def revoke_token(token_id: RowId, db=Depends(get_db), who=Depends(own)):
    _may_touch(who, credentials.get_token(db, token_id)["user_id"])
    return credentials.revoke_token(db, who, token_id)
