"""Who may call the workflow API: the route permission table (`assay_common.route_permissions`),
enforced again by this service for its own routes (docs/workflows.md#permissions).

The gateway enforces every row whose object it can name from the request. The worker routes'
object, the namespace of a worker (`namespace:{worker.namespace}#work`), only this service knows,
so it is checked only here. Every other row is checked here again, on the request as this service
parsed it, so a request the gateway read differently (its body, say) cannot slip through; the
answers are cached, so the second check is cheap. Each check uses the route's own row: the table
stays the one place that says who may do what.

Every router of the service depends on `access`, which checks the rows whose object is fixed or in
the path or the query before the route runs; a route whose row names its object in the body or
through a worker calls `require_body` or `require_worker` once it has parsed the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Depends, Request
from pydantic import BaseModel

from assay_common.errors import Unauthorized
from assay_common.internal_auth import Principal
from assay_common.permission_checks import CONSISTENCY_TOKEN_HEADER, Need, PermissionChecks
from assay_common.route_permissions import RoutePermission, RouteTable
from assay_common.service import caller, permission_checks
from assay_workflow.api.deps import engine
from assay_workflow.domain.engine import Engine

ROUTES = RouteTable()
#: Where a row's object is known before the route runs.
FROM_REQUEST = ("fixed", "path", "query")


@dataclass(frozen=True)
class Access:
    """The caller of one request and the row of the table that its route falls under."""

    principal: Principal
    route: RoutePermission
    checks: PermissionChecks
    engine: Engine
    #: The caller's consistency token, if it sent one.
    at_least: str | None = None

    async def require(self, need: Need) -> None:
        """403 (`permission_denied`, `scope_not_held`) unless the caller holds `need`."""
        await self.checks.require(self.principal, need, self.at_least)

    async def permitted(self, needs: Sequence[Need]) -> list[bool]:
        return await self.checks.permitted(self.principal, needs, self.at_least)

    async def require_body(self, body: BaseModel) -> None:
        """The route's row, its object taken from the body as this service parsed it (defaults
        included)."""
        await self.require(self.route.need(body=dict(body)))

    async def require_worker(self, worker_id: str) -> None:
        """The route's row, its object the namespace of worker `worker_id`; an unknown worker is
        404 `worker_not_found`, as before it was checked."""
        worker = await self.engine.worker(worker_id)
        await self.require(self.route.need(resolved=worker.namespace))


async def access(
    request: Request,
    principal: Principal = Depends(caller),
    checks: PermissionChecks = Depends(permission_checks),
    found: Engine = Depends(engine),
) -> Access:
    """The caller of the request, once it passed its route's row as far as it can be checked
    before the route runs (FastAPI dependency, one per request)."""
    route = ROUTES.row(request.method, request.scope["route"].path)
    granted = Access(principal, route, checks, found, request.headers.get(CONSISTENCY_TOKEN_HEADER) or None)
    if route.access == "signed_in" and principal.kind == "anonymous":
        raise Unauthorized("sign in, or send an API key or token")
    if route.access == "permission" and route.source in FROM_REQUEST:
        await granted.require(need_in(route, request))
    return granted


def need_in(route: RoutePermission, request: Request) -> Need:
    """The permission `request` needs by `route`, its object from the path or the query."""
    return route.need(request.path_params, request.query_params)
