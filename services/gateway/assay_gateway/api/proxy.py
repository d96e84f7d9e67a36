"""Everything the gateway does not answer itself goes to the service the routing table names."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from assay_gateway.authorization import admit
from assay_gateway.gateway import Gateway
from assay_gateway.routing import NoSuchRoute, service_for

router = APIRouter()

#: `LIST` is Vault's method for listing keys (`/v1/...`; hvac and the `vault` CLI send it).
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "LIST"]


async def proxy(request: Request) -> Response:
    admitted = await admit(request)
    path: str = request.scope["path"]
    service = service_for(path)
    if service is None:
        # A row of the gateway's own (`/api/v1/health`) asked with a method it does not serve.
        raise NoSuchRoute(f"there is no route {request.method} {path}")
    edge: Gateway = request.app.state.gateway
    return await edge.proxy.forward(request, service, admitted.principal, admitted.body)


# A plain route, not an API operation: it has no parameters or document of its own, so FastAPI's
# per-request resolution of them (a noticeable part of a proxied request's cost) is spared.
router.add_route("/{path:path}", proxy, methods=METHODS, include_in_schema=False)
