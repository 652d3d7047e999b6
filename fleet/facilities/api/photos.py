"""Photos for staff: of assets, reports and resolutions (a citizen's photo may show people, so
it is never public)."""

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from fleet.api.deps import get_db, require
from fleet.api.schemas import ERROR_RESPONSES, RowId
from fleet.errors import NotFound
from fleet.facilities import photos

router = APIRouter(prefix="/api/v1/facilities", tags=["facilities"], responses=ERROR_RESPONSES)


@router.get("/photos/{photo_id}", summary="A photo (JPEG, re-encoded without metadata)",
            responses={200: {"content": {"image/jpeg": {}}}})
def get_photo(photo_id: RowId, db=Depends(get_db), who=Depends(require("assets.read"))):
    found = photos.get(db, photo_id)
    if found is None:
        raise NotFound("no photo %d" % photo_id)
    return Response(found[2], media_type="image/jpeg")
