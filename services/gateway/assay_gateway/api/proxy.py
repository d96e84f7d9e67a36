"""Everything the gateway does not answer itself goes to the service the routing table names."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from assay_gateway.authorization import Admitted
from assay_gateway.gateway import Gateway, gateway
from assay_gateway.routing import NoSuchRoute, service_for

router = APIRouter()

#: `LIST` is Vault's method for listing keys (`/v1/...`; hvac and the `vault` CLI send it).
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "LIST"]


@router.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
async def proxy(request: Request, admitted: Admitted, edge: Gateway = Depends(gateway)) -> Response:
    path: str = request.scope["path"]
    service = service_for(path)
    if service is None:
        # A row of the gateway's own (`/api/v1/health`) asked with a method it does not serve.
        raise NoSuchRoute(f"there is no route {request.method} {path}")
    return await edge.proxy.forward(request, service, admitted.principal, admitted.body)
