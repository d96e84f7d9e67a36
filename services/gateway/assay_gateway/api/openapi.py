"""`/api/v1/openapi.json` (every service's API in one document) and `/api/v1/docs` to browse it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from starlette.responses import FileResponse, HTMLResponse, JSONResponse
from swagger_ui_bundle import swagger_ui_path

from assay_common.errors import NotFound
from assay_gateway.authorization import admit
from assay_gateway.gateway import Gateway, gateway

router = APIRouter(prefix="/api/v1", tags=["platform"], dependencies=[Depends(admit)])

STATIC = Path(__file__).parent.parent / "static"
#: The Swagger UI files the docs page loads, served by the gateway itself (no CDN).
SWAGGER_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "favicon-16x16.png",
        "favicon-32x32.png",
    }
)
#: Swagger UI styles itself inline and draws icons from data: URIs; everything else is same-origin.
_DOCS_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
DOCS_PAGE = (STATIC / "docs.html").read_text()

OWN_ASSETS = frozenset({"docs.js"})


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


@router.get("/openapi.json", response_model=OpenApiDocument, summary="The whole public API as one document")
async def merged_openapi(edge: Gateway = Depends(gateway)) -> JSONResponse:
    return JSONResponse(await edge.catalog.document())


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def api_docs() -> HTMLResponse:
    return HTMLResponse(DOCS_PAGE, headers={"content-security-policy": _DOCS_POLICY})


@router.get("/docs/assets/{name}", include_in_schema=False)
async def api_docs_asset(name: str) -> FileResponse:
    if name in SWAGGER_ASSETS:
        directory = Path(str(swagger_ui_path))
    elif name in OWN_ASSETS:
        directory = STATIC
    else:
        raise NotFound(f"no asset {name!r}")
    return FileResponse(directory / name, headers={"cache-control": "public, max-age=3600"})
