"""The console's static files, served by the app itself (no CDN): htmx from the
pinned ``django-js-lib-htmx`` wheel (the files only; nothing of Django is imported), and our stylesheet and script."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from oodaloo.infra.web.errors import NotFound

router = APIRouter(include_in_schema=False)

_HTMX = resources.files("js_lib_htmx") / "static" / "htmx"
_OURS = resources.files("oodaloo.runway.experiences") / "static"
ASSETS = {
    "htmx.min.js": (_HTMX / "htmx.min.js", "text/javascript"),
    "console.css": (_OURS / "console.css", "text/css"),
    "console.js": (_OURS / "console.js", "text/javascript"),
}


class AssetNotFound(NotFound):
    code = "asset_not_found"
    message = "There is no such static file."


@cache
def _asset_bytes(name: str) -> bytes:
    return ASSETS[name][0].read_bytes()


@router.get("/static/{name}")
async def static_asset(name: str) -> Response:
    if name not in ASSETS:
        raise AssetNotFound()
    # An hour, not forever: the names carry no version, and an upgrade must reach browsers the same day.
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response(_asset_bytes(name), media_type=ASSETS[name][1], headers=headers)
