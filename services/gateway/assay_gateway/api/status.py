"""`/api/v1/health`, `/api/v1/version`, `/api/v1/modules`: the platform at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse

from assay_gateway import status
from assay_gateway.authorization import admit
from assay_gateway.gateway import Gateway, gateway

#: Health and version are public (ARCHITECTURE §5): monitors and the login page use them.
public_router = APIRouter(prefix="/api/v1", tags=["platform"])
router = APIRouter(prefix="/api/v1", tags=["platform"], dependencies=[Depends(admit)])


@public_router.get(
    "/health",
    response_model=status.PlatformHealth,
    responses={503: {"model": status.PlatformHealth, "description": "Some service is not ok"}},
    summary="Readiness of every service",
)
async def platform_health(edge: Gateway = Depends(gateway)) -> JSONResponse:
    report = await status.health(edge)
    status_code = 200 if report.status == "ok" else 503
    return JSONResponse(report.model_dump(exclude_none=True), status_code=status_code)


@public_router.get(
    "/version",
    response_model=status.PlatformVersion,
    response_model_exclude_none=True,
    summary="Version of the gateway and of every service",
)
async def platform_version(edge: Gateway = Depends(gateway)) -> status.PlatformVersion:
    return await status.versions(edge)


@router.get(
    "/modules", response_model=status.ModuleList, summary="The services and whether they are reachable"
)
async def platform_modules(edge: Gateway = Depends(gateway)) -> status.ModuleList:
    return await status.modules(edge)
