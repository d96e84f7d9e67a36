"""The route → permission table is complete and has no stale rows: every route of the platform
(the merged public OpenAPI, each service's own document with its internal routes, and the
gateway's routes that no document shows) is a row, and every row is one of those routes."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute

from assay_common.route_permissions import openapi_path
from assay_gateway.api import events, openapi, status
from assay_gateway.openapi_merge import STANDARD_PATHS
from assay_gateway.routing import ROUTE_TABLE, SERVICES
from assay_vault.api.vault_dialect import LIST_OPERATION
from tests.conftest import Stack

#: What every service serves beside its API (ARCHITECTURE §3): not routed by the gateway.
SERVICE_STANDARD = STANDARD_PATHS | {"/openapi.json"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "trace"}

Route = tuple[str, str]


def routes_of(document: dict[str, Any]) -> set[Route]:
    """The (method, path) of each operation; the vault's `x-list` is Vault's `LIST`."""
    return {
        ("LIST" if method == LIST_OPERATION else method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS | {LIST_OPERATION} and path not in SERVICE_STANDARD
    }


def gateway_routes() -> set[Route]:
    """The gateway's own routes, those its document leaves out (the docs pages) included."""
    routers = [status.public_router, status.router, openapi.router, events.router]
    return {
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


async def test_every_route_is_a_row_and_every_row_a_route(stack: Stack) -> None:
    merged = await stack.client.get("/api/v1/openapi.json")
    assert merged.status_code == 200, merged.text
    routes = routes_of(merged.json()) | gateway_routes()
    for service in SERVICES:
        async with httpx.AsyncClient(base_url=stack.platform.service_url(service)) as direct:
            own = await direct.get("/openapi.json")
        assert own.status_code == 200, service
        routes |= routes_of(own.json())
    rows = {(row.method, openapi_path(row.path)) for row in ROUTE_TABLE.rows}

    assert sorted(routes - rows) == [], "routes missing from the route table"
    assert sorted(rows - routes) == [], "rows of the route table that are no route"
