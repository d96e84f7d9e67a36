"""Everything the gateway does not answer itself goes to the service the routing table names."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from assay_common.errors import NotFound
from assay_gateway.authentication import Caller
from assay_gateway.gateway import Gateway, gateway
from assay_gateway.routing import service_for

router = APIRouter()

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
async def proxy(request: Request, caller: Caller, edge: Gateway = Depends(gateway)) -> Response:
    path: str = request.scope["path"]
    service = service_for(path)
    if service is None:
        raise NotFound(f"no API route for {request.method} {path}")
    return await edge.proxy.forward(request, service, caller)
