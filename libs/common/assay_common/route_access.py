"""Who may call a service's routes: each route's row of the route permission table
(`assay_common.route_permissions`), enforced again by the service that serves it.

The gateway enforces every row whose object it can name from the request. Each service checks its
routes' rows again, on the request as it parsed it, so that a request the gateway read differently
(its body, say) cannot slip through and no service relies on the edge alone; the answers are
cached, so the second check is cheap. Rows whose object only the service can find (the namespace
of a worker, `{worker.namespace}`) are checked only there. Each check uses the route's own row: the
table stays the one place that says who may do what.

Every router of a service depends on `access`, which checks the rows whose object is fixed or in
the path or the query before the route runs; a route whose row names its object in the body calls
`Access.require_body` once it has parsed the body, and one whose object the service looks up calls
`Access.require_resolved` with what it found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request
from pydantic import BaseModel

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
    """The caller of one request and the row of the table that its route falls under."""

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

    async def permitted(self, needs: Sequence[Need]) -> list[bool]:
        """Whether the caller holds each of `needs`."""
        return await self.checks.permitted(self.principal, needs, self.at_least)

    async def require_body(self, body: BaseModel) -> None:
        """The route's row, its object taken from the body as the service parsed it (defaults
        included)."""
        await self.require(self.route.need(body=dict(body)))

    async def require_resolved(self, object_id: str) -> None:
        """The route's row, its object the one the service looked up (`{worker.namespace}`)."""
        await self.require(self.route.need(resolved=object_id))


async def access(request: Request) -> Access:
    """The caller of the request, once it passed its route's row as far as it can be checked
    before the route runs (FastAPI dependency, one per request). An anonymous caller of a route
    that needs more is 401: who is calling must be established before what they may do.

    The caller and the checks are taken here rather than as dependencies of their own: FastAPI
    resolves every dependency of every request anew, at a cost that showed in every route's."""
    principal = await caller(request)
    checks = await permission_checks(request)
    route = ROUTES.row(request.method, request.scope["route"].path)
    granted = Access(principal, route, checks, request.headers.get(CONSISTENCY_TOKEN_HEADER) or None)
    if route.access in ("signed_in", "permission") and principal.kind == "anonymous":
        raise Unauthorized("sign in, or send an API key or token")
    if route.access == "permission" and route.source in FROM_REQUEST:
        await checks.require_any(
            principal, route.needs(request.path_params, request.query_params), granted.at_least
        )
    return granted
