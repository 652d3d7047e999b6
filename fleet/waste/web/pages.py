"""Waste pages: /bins (the bins on a map coloured by fill, the planned route, the list) and
/crew (a truck's route for a phone: ordered stops, the map, print, CSV/GPX, marks). Templates
(templates/, found as `waste/<file>`) extend the core's base.html; scripts and styles
(static/) are served at /static/waste/. The map is SVG drawn from the bins' coordinates: no
tiles, no internet - unless a tile server is set (FLEET_MAP_TILE_URL), whose tiles go underneath.
"""

from pathlib import Path

from fastapi import APIRouter, Depends, Request

from fleet.api.deps import get_db
from fleet.web.i18n import N_
from fleet.web.pages import page, register_nav_link, register_templates

HERE = Path(__file__).parent
STATIC = HERE / "static"
register_templates("waste", HERE / "templates")
register_nav_link("/bins", N_("Bins"), "bins.read", "nav-bins")
register_nav_link("/crew", N_("Route"), "waste.crew", "nav-crew")
router = APIRouter(include_in_schema=False)


def _tiles(request):
    settings = request.app.state.fleet.settings
    return {"url": settings.map_tile_url, "credit": settings.map_tile_attribution}


@router.get("/bins")
def bin_map(request: Request, db=Depends(get_db)):
    return page(request, db, "waste/bins.html", "bins.read", {"tiles": _tiles(request)})


@router.get("/crew")
def crew(request: Request, db=Depends(get_db)):
    return page(request, db, "waste/crew.html", "waste.crew", {"tiles": _tiles(request)})
