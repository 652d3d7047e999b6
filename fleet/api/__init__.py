"""HTTP routes, one module per resource. Routes stay thin: parse, check role, call fleet.domain."""

from fastapi import APIRouter

from fleet.api import admin, auth, device, devices, enrollment, live, tokens, users

api_router = APIRouter()
for module in (device, auth, users, tokens, enrollment, devices, live, admin):
    api_router.include_router(module.router)
