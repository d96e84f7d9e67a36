"""Anonymous callers reach the public routes and nothing else: every other route answers 401 with
a problem, and changes nothing. The one list of public routes is the route table's `public` rows
plus the console's pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import APIRoute

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER
from assay_common.vault_errors import is_vault_path
from assay_gateway.api import events, openapi, status
from assay_gateway.authorization import admit
from assay_gateway.public_routes import SIGN_IN, is_public
from assay_gateway.routing import ROUTE_TABLE, service_for
from tests.conftest import Stack

#: Every route of the table that needs a caller, as an anonymous caller might try it.
PROTECTED = [
    (row.method, re.sub(r"\{[a-z_]+(:path)?\}", "x", row.path))
    for row in ROUTE_TABLE.rows
    if row.access in ("signed_in", "permission")
]


@pytest.fixture
async def anonymous(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_an_anonymous_caller_of_a_protected_route_gets_401(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await anonymous.request(method, path, json={})

    assert response.status_code == 401, response.text
    if is_vault_path(path):  # Vault's dialect: hvac reads `errors`
        assert list(response.json()) == ["errors"]
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/no-such-route"),
        ("GET", "/api/v1/events"),
        ("PUT", "/api/v1/workflows"),
        ("GET", "/api/v1/vault/sys/status"),
        ("POST", "/internal/v1/api-keys/validate"),  # Assay's own services only
    ],
)
async def test_what_is_not_a_route_is_404_to_anyone(
    stack: Stack, anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    for client in (anonymous, stack.client):
        response = await client.request(method, path, json={})

        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "no_such_route"


async def test_what_is_not_a_route_of_vaults_dialect_is_404_in_its_form(
    stack: Stack, anonymous: httpx.AsyncClient
) -> None:
    for client in (anonymous, stack.client):
        response = await client.get("/v1/sys/no-such-route")

        assert response.status_code == 404, response.text
        assert response.json() == {"errors": ["there is no route GET /v1/sys/no-such-route"]}


async def test_a_refused_request_changes_nothing(
    stack: Stack, anonymous: httpx.AsyncClient, unique: str
) -> None:
    refused = await anonymous.post("/api/v1/namespaces", json={"name": unique})

    assert refused.status_code == 401
    assert unique not in await namespace_names(stack.client)


async def namespace_names(client: httpx.AsyncClient) -> set[str]:
    """The names of every namespace the client can view."""
    names: set[str] = set()
    params = {"limit": "500"}
    while True:
        page = (await client.get("/api/v1/namespaces", params=params)).json()
        names |= {namespace["name"] for namespace in page["items"]}
        if page["next_cursor"] is None:
            return names
        params["cursor"] = page["next_cursor"]


async def test_identity_headers_from_the_client_do_not_make_it_anyone(anonymous: httpx.AsyncClient) -> None:
    forged = {INTERNAL_TOKEN_HEADER: "forged", "x-assay-principal": "admin", "x-user-id": "1"}

    response = await anonymous.get("/api/v1/auth/whoami", headers=forged)

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/health", 200),
        ("/api/v1/version", 200),
        ("/api/v1/openapi.json", 200),
        ("/api/v1/docs", 200),
        ("/login", 200),  # the console's pages and assets
        ("/static/dashboard.css", 200),
        ("/.well-known/jwks.json", 200),
        ("/api/v1/auth/biscuit/root-keys", 200),
        ("/api/v1/auth/biscuit/revocations", 200),
    ],
)
async def test_public_routes_answer_anonymous_callers(
    anonymous: httpx.AsyncClient, path: str, expected: int
) -> None:
    assert (await anonymous.get(path)).status_code == expected


async def test_signing_in_is_open_to_anonymous_callers(anonymous: httpx.AsyncClient) -> None:
    # Reaches the auth service, which judges the (missing) credentials itself.
    response = await anonymous.post("/api/v1/auth/login", json={})

    assert response.status_code == 422


def test_every_gateway_route_is_a_row_and_those_it_lets_anyone_reach_are_public() -> None:
    routers = [status.public_router, status.router, openapi.router, events.router]
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods or ():
                row = ROUTE_TABLE.get(method, route.path)
                assert row is not None, f"{method} {route.path} is not in the route table"
                admitted = any(d.call is admit for d in route.dependant.dependencies)
                if not admitted:
                    assert row.access == "public", f"{route.path} lets anyone in but is not public"


def test_sign_in_routes_are_public_rows() -> None:
    for method, path in SIGN_IN:
        row = ROUTE_TABLE.get(method, path)
        assert row is not None and row.access == "public", path


def test_the_public_routes_are_the_tables_public_rows_and_the_pages() -> None:
    public = [row for row in ROUTE_TABLE.rows if row.access == "public"]

    assert all(is_public(row.method, row.path) for row in public)
    # the gateway's own, auth's, or the vault's seal status and health (public in Vault)
    assert {service_for(row.path) for row in public} <= {None, "auth", "vault"}
    assert is_public("GET", "/") and is_public("GET", "/static/status.js")
    assert not is_public("GET", "/api/v1/workflows") and not is_public("POST", "/api/v1/auth/users")
    assert not is_public("PUT", "/v1/sys/seal") and not is_public("POST", "/internal/v1/bootstrap")
