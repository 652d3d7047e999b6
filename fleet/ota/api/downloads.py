"""Downloads for devices: GET /ota/dl/<name> with a signed, short-lived query (fleet/ota/urls.py):
the signed manifest (<release>.manifest.json) or the artifact (its file name), with Range, ETag
and If-Range (Starlette's FileResponse), read from disk in worker threads so the event loop keeps
serving ingest and the alarm console. Past FLEET_OTA_MAX_DOWNLOADS at once: 503 `busy` with
Retry-After - the device waits and resumes, and it is never counted as its failure. Nothing here
touches the ingest writer. docs/protocol.md "OTA"."""

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from fleet.errors import FleetError, Forbidden, NotFound
from fleet.ota import urls
from fleet.ota.progress import manifest_name

router = APIRouter(include_in_schema=False)


class Busy(FleetError):
    code = "busy"
    status = 503
    retry_after = 5


class CountedFile(FileResponse):
    """A FileResponse that counts itself among the downloads being served, and sends its body no
    faster than the service's byte budget allows (all downloads together)."""

    def __init__(self, service, *args, **kw):
        super().__init__(*args, **kw)
        self.service = service

    async def __call__(self, scope, receive, send):
        service = self.service

        async def paced(message):
            if message.get("type") == "http.response.body" and message.get("body"):
                await service.budget.take(len(message["body"]))
            await send(message)

        service.active += 1
        try:
            await super().__call__(scope, receive, paced)
        finally:
            service.active -= 1
            service.served += 1


_files = {}         # name -> (kind of file, release id, sha256, envelope) of every release (they never change)


def _lookup(db, name):
    found = _files.get(name)
    if found is None:
        for rid, file, sha, env in db.conn.execute("SELECT id, file, sha256, envelope FROM ota_releases"):
            _files[manifest_name(rid)] = ("manifest", rid, None, env)
            if file:
                _files[file] = ("artifact", rid, sha, None)
        found = _files.get(name)
    return found


@router.get("/ota/dl/{name}")
async def download(name: str, request: Request):
    fleet = request.app.state.fleet
    service = fleet.services["ota"]
    device_id = urls.check(urls.secret_for(fleet.settings), name, request.query_params)
    if device_id is None:
        raise Forbidden("this download link is wrong or has expired: ask for a fresh offer")
    db = fleet.reader
    found = _lookup(db, name)
    if found is None:
        raise NotFound("no such release file")
    kind, rid, sha, env = found
    if kind == "manifest":
        return Response(env.encode(), media_type="application/json", headers={"Cache-Control": "no-store"})
    if service.active >= fleet.settings.ota_max_downloads:
        service.turned_away(device_id)
        raise Busy("the fleet is serving %d downloads: try again in a few seconds" % service.active)
    path = fleet.settings.ota_path / name
    if not path.is_file():
        raise NotFound("the artifact of %s is missing from the release folder" % rid)
    return CountedFile(service, path, media_type="application/octet-stream",
                       headers={"ETag": '"%s"' % sha, "Cache-Control": "no-store"})
