"""Who may call the vault API: the route permission table (`assay_common.route_permissions`),
enforced again by this service for its own routes (docs/vault.md#authorization).

The gateway enforces every row whose object it can name; this service checks each route's row
again, on the request as it parsed it, so that the vault never relies on the edge alone for the
routes that hold its keys. Each router of the service depends on `access`, which checks the row
before the route runs (fixed objects, or objects named by the path or the query); a route whose
object is in its body calls `Access.require` once it has parsed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request

from assay_common.errors import Unauthorized
from assay_common.internal_auth import Principal
from assay_common.permission_checks import CONSISTENCY_TOKEN_HEADER, Need, PermissionChecks
from assay_common.route_permissions import RoutePermission, RouteTable
from assay_common.service import caller, permission_checks

ROUTES = RouteTable()
#: Where a row's object is known before the route runs.
FROM_REQUEST = ("fixed", "path", "query")


@dataclass(frozen=True)
class Access:
    """The caller of one request and the row of the table its route falls under."""

    principal: Principal
    route: RoutePermission
    checks: PermissionChecks
    #: The caller's consistency token, if it sent one.
    at_least: str | None = None

    @property
    def actor(self) -> str:
        """How events and logs name the caller: `<kind>:<id>`."""
        return f"{self.principal.kind}:{self.principal.id}"

    async def require(self, need: Need) -> None:
        """403 (`permission_denied`, `scope_not_held`) unless the caller holds `need`."""
        await self.checks.require(self.principal, need, self.at_least)


async def access(
    request: Request,
    principal: Principal = Depends(caller),
    checks: PermissionChecks = Depends(permission_checks),
) -> Access:
    """The caller of the request, once it passed its route's row as far as it can be checked
    before the route runs (FastAPI dependency, one per request)."""
    route = ROUTES.row(request.method, request.scope["route"].path)
    granted = Access(principal, route, checks, request.headers.get(CONSISTENCY_TOKEN_HEADER) or None)
    if route.access in ("signed_in", "permission") and principal.kind == "anonymous":
        raise Unauthorized("sign in, or send an API key or token")
    if route.access == "permission" and route.source in FROM_REQUEST:
        await checks.require_any(
            principal, route.needs(request.path_params, request.query_params), granted.at_least
        )
    return granted
