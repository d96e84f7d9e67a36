"""The status page (`/`), the set-password page (`/account/password`) and the static files pages
load (`/static/…`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, HTMLResponse

from assay_common.errors import NotFound
from assay_common.service import distribution_version
from assay_dashboard.pages import render

router = APIRouter(tags=["pages"])

STATIC = Path(__file__).parent.parent / "static"
VERSION = distribution_version("assay-dashboard")
ASSETS = frozenset({"dashboard.css", "status.js", "password.js", "favicon.svg"})

#: Pages load scripts, styles and data from this origin only, and nothing may frame them.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def status_page() -> HTMLResponse:
    html = render("status.html", version=VERSION)
    return HTMLResponse(html, headers={**SECURITY_HEADERS, "cache-control": "no-store"})


@router.get("/account/password", response_class=HTMLResponse, include_in_schema=False)
async def password_page() -> HTMLResponse:
    """Sets a password with the token of a recovery or first-administrator link. The token comes in
    the URL fragment, which only the page's script reads; no referrer leaves this page at all."""
    html = render("password.html", version=VERSION)
    headers = {**SECURITY_HEADERS, "cache-control": "no-store", "referrer-policy": "no-referrer"}
    return HTMLResponse(html, headers=headers)


@router.get("/static/{name}", include_in_schema=False)
async def static_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(STATIC / name, headers={**SECURITY_HEADERS, "cache-control": "public, max-age=300"})
