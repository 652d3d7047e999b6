"""OTA's pages: releases (with keys, upload and a rollout form) and one rollout (live progress per
phase and per device, the controls, the history). Templates in templates/ (found as `ota/<file>`)
extend the core's base.html; scripts and styles in static/, served at /static/ota/. Both pages
fill themselves from the API and the live stream /api/v1/live/ota."""

from pathlib import Path

from fastapi import APIRouter, Depends, Request

from fleet.api.deps import get_db
from fleet.api.schemas import RowId
from fleet.web.i18n import N_
from fleet.web.pages import page, register_nav_link, register_templates

HERE = Path(__file__).parent
STATIC = HERE / "static"
register_templates("ota", HERE / "templates")
register_nav_link("/ota", N_("Updates"), "ota.read", "nav-ota")
router = APIRouter(include_in_schema=False)


@router.get("/ota")
def releases_page(request: Request, db=Depends(get_db)):
    return page(request, db, "ota/releases.html", "ota.read")


@router.get("/ota/rollouts/{rollout_id}")
def rollout_page(rollout_id: RowId, request: Request, db=Depends(get_db)):
    return page(request, db, "ota/rollout.html", "ota.read")     # the script reads the id from the URL
