"""Care's pages: the alarm console and residents. Their templates (templates/, found as
`care/<file>`) extend the core's base.html; their scripts and styles (static/) are served at
/static/care/. The console fills itself from the live stream /api/v1/live/alarms.
"""

from pathlib import Path

from fastapi import APIRouter, Depends, Request

from fleet.api.deps import get_db
from fleet.web.i18n import N_
from fleet.web.pages import page, register_nav_link, register_templates

HERE = Path(__file__).parent
STATIC = HERE / "static"
register_templates("care", HERE / "templates")
register_nav_link("/console", N_("Alarm console"), "alarms.read", "nav-console")
register_nav_link("/residents", N_("Residents"), "residents.read", "nav-residents")
router = APIRouter(include_in_schema=False)


@router.get("/console")
def alarm_console(request: Request, db=Depends(get_db)):
    return page(request, db, "care/console.html", "alarms.read")


@router.get("/residents")
def resident_list(request: Request, db=Depends(get_db)):
    return page(request, db, "care/residents.html", "residents.read")
