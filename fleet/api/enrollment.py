"""Enrollment tokens: minted by admins and technicians, each good for one device."""

from typing import Literal, Optional

from fastapi import APIRouter, Depends

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES, RowId, EnrollTokenCreate, EnrollTokenCreated, EnrollTokenOut
from fleet.domain import enrollment

router = APIRouter(prefix="/api/v1/enrollment-tokens", tags=["enrollment"], responses=ERROR_RESPONSES)
manage = require("enrollment.manage")


@router.get("", response_model=list[EnrollTokenOut], summary="List enrollment tokens")
def list_tokens(state: Optional[Literal["valid", "used", "expired", "revoked"]] = None,
                db=Depends(get_db), who=Depends(manage)):
    return enrollment.list_tokens(db, state)


@router.post("", status_code=201, response_model=list[EnrollTokenCreated],
             summary="Mint enrollment tokens (clear values shown once)")
def mint(body: EnrollTokenCreate, db=Depends(get_db), who=Depends(manage)):
    minted = enrollment.mint_tokens(db, who, body.expires_in_s, body.count, body.role, body.board, body.site)
    return [dict(row, token=token) for row, token in minted]


@router.delete("/{token_id}", response_model=EnrollTokenOut, summary="Revoke an unused enrollment token")
def revoke(token_id: RowId, db=Depends(get_db), who=Depends(manage)):
    return enrollment.revoke_token(db, who, token_id)
