"""The files pages load: `/static/<path>` (scripts, styles, images beside this package) and
`/theme.css`, the stylesheet made from the whitelabel accent."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from assay_common.errors import NotFound
from assay_dashboard.rendering import Rendering

router = APIRouter(tags=["assets"])

STATIC = (Path(__file__).parent.parent / "static").resolve()
#: What may be served, with its type (JavaScript modules must be served as JavaScript).
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
#: Revalidated on every use (a 304 when the browser's copy is current): URLs carry the version,
#: but a file may change within one.
CACHE_CONTROL = "no-cache"


@router.get("/static/{name:path}", include_in_schema=False)
async def static_asset(name: str, request: Request) -> Response:
    file = (STATIC / name).resolve()
    media_type = MEDIA_TYPES.get(file.suffix)
    if media_type is None or not file.is_relative_to(STATIC) or not file.is_file():
        raise NotFound(f"no static file {name!r}")
    rendering: Rendering = request.app.state.rendering
    headers = {**rendering.headers, "cache-control": CACHE_CONTROL}
    response = FileResponse(file, media_type=media_type, headers=headers, stat_result=file.stat())
    if request.headers.get("if-none-match") == response.headers["etag"]:
        # The browser's copy is this file: it keeps using it, nothing is sent again.
        return Response(status_code=304, headers={**headers, "etag": response.headers["etag"]})
    return response


@router.get("/theme.css", include_in_schema=False)
async def theme_stylesheet(request: Request) -> Response:
    rendering: Rendering = request.app.state.rendering
    headers = {**rendering.headers, "cache-control": CACHE_CONTROL}
    return Response(rendering.whitelabel.accent_stylesheet(), media_type=MEDIA_TYPES[".css"], headers=headers)
