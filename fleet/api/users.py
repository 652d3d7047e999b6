"""People: admins create users, change roles, disable them, reset passwords."""

from fastapi import APIRouter, Depends

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES, RowId, PasswordIn, UserCreate, UserOut, UserUpdate
from fleet.domain import users

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=ERROR_RESPONSES)
admin = require("users.manage")


@router.get("", response_model=list[UserOut], summary="List users")
def list_users(db=Depends(get_db), who=Depends(admin)):
    return users.list_users(db)


@router.post("", status_code=201, response_model=UserOut, summary="Create a user")
def create_user(body: UserCreate, db=Depends(get_db), who=Depends(admin)):
    return users.create_user(db, who, body.username, body.role, body.password)


@router.get("/{user_id}", response_model=UserOut, summary="One user")
def get_user(user_id: RowId, db=Depends(get_db), who=Depends(admin)):
    return users.get_user(db, user_id)


@router.patch("/{user_id}", response_model=UserOut, summary="Change role or disable")
def update_user(user_id: RowId, body: UserUpdate, db=Depends(get_db), who=Depends(admin)):
    return users.update_user(db, who, user_id, role=body.role, disabled=body.disabled)


@router.put("/{user_id}/password", status_code=204, summary="Set a new password (ends the user's sessions)")
def set_password(user_id: RowId, body: PasswordIn, db=Depends(get_db), who=Depends(admin)):
    users.set_password(db, who, users.get_user(db, user_id)["username"], body.password)
