"""/provisioning: a technician's provisioning runs - the boards awaiting their first hello (and
why), the failures not resolved yet (with the fix the tool printed), the recent runs. Rendered on
the server from fleet.provisioning.runs: a table page, no script. Admins see every technician's
runs and may narrow them to one (?technician=).
"""

from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from fleet.api.deps import get_db
from fleet.core.permissions import allowed
from fleet.provisioning import runs
from fleet.web.i18n import N_
from fleet.web.pages import page, register_nav_link, register_templates

HERE = Path(__file__).parent
STATIC = HERE / "static"
register_templates("provisioning", HERE / "templates")
register_nav_link("/provisioning", N_("Provisioning"), "provisioning.read", "nav-provisioning")
router = APIRouter(include_in_schema=False)

# Why a flashed board still waits for its first hello, and what to do, in the reader's words.
WHY = {"token_unused": N_("It has not reached the fleet yet: check the Wi-Fi name and password on the board, "
                          "and that the access point is in range."),
       "token_expired": N_("Its enrollment token expired before it enrolled: run `provision enroll` on it."),
       "token_revoked": N_("Its enrollment token was revoked: run `provision enroll` on it."),
       "enrolled_silent": N_("It enrolled but has not said hello: check that it can reach the fleet.")}
DEVICE_ROLES = {"call_button": N_("call button"), "smart_bin": N_("smart bin"), "beacon": N_("facility beacon")}
RECENT = 50


@router.get("/provisioning")
def provisioning_page(request: Request, technician: Optional[str] = Query(None, max_length=64), db=Depends(get_db)):
    def context(who):
        return {"summary": runs.summary(db, who, technician), "awaiting": runs.awaiting_hello(db, who, technician),
                "failures": runs.list_runs(db, who, "open", technician, limit=RECENT),
                "recent": runs.list_runs(db, who, None, technician, limit=RECENT), "why_text": WHY,
                "technician": technician or "", "role_names": DEVICE_ROLES, "sees_all": allowed(who.role, "provisioning.all")}
    return page(request, db, "provisioning/runs.html", "provisioning.read", context)
