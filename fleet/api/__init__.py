"""HTTP routes, one module per resource. Routes stay thin: parse, check role, call fleet.domain."""

from fastapi import APIRouter

from fleet.api import (admin, alarms, auth, device, devices, enrollment, live, metrics, residents, tokens, users,
                       webhooks)

api_router = APIRouter()
for module in (device, auth, users, tokens, enrollment, devices, live, admin, alarms, residents, webhooks, metrics):
    api_router.include_router(module.router)
