"""HTTP routes of the core, one module per resource. Routes stay thin: parse, check role, call
fleet.domain. Capabilities' routes live in their packages (fleet/care/api/); fleet/main.py adds them."""

from fastapi import APIRouter

from fleet.api import admin, auth, device, devices, enrollment, live, metrics, tokens, users, webhooks

api_router = APIRouter()
for module in (device, auth, users, tokens, enrollment, devices, live, admin, webhooks, metrics):
    api_router.include_router(module.router)
