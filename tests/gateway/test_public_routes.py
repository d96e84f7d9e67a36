"""Anonymous callers reach the public routes and nothing else: every other route answers 401 with
a problem, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import APIRoute

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER
from assay_gateway.api import events, openapi, status
from assay_gateway.authentication import authenticate
from assay_gateway.public_routes import OPEN, SIGN_IN, is_public
from tests.conftest import Stack

#: One route of each kind behind the gateway, as an anonymous caller might try it.
PROTECTED = [
    ("GET", "/api/v1/namespaces"),
    ("POST", "/api/v1/namespaces"),
    ("GET", "/api/v1/workflows"),
    ("POST", "/api/v1/workflow-tasks/poll"),
    ("GET", "/api/v1/auth/whoami"),
    ("GET", "/api/v1/auth/users"),
    ("POST", "/api/v1/auth/api-keys"),
    ("GET", "/api/v1/vault/sys/status"),
    ("GET", "/v1/sys/mounts"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/modules"),
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
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_refused_request_changes_nothing(
    stack: Stack, anonymous: httpx.AsyncClient, unique: str
) -> None:
    refused = await anonymous.post("/api/v1/namespaces", json={"name": unique})

    assert refused.status_code == 401
    assert (await stack.client.get(f"/api/v1/namespaces/{unique}")).status_code == 404


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
        ("/", 200),  # the console's pages and assets
        ("/static/status.js", 200),
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


def test_every_gateway_route_without_authentication_is_in_the_public_list() -> None:
    routers = [status.public_router, status.router, openapi.router, events.router]
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            authenticated = any(d.call is authenticate for d in route.dependant.dependencies)
            if not authenticated:
                assert is_public(route.path), f"{route.path} skips authentication but is not listed"


def test_the_public_list_names_no_route_of_the_workflow_or_vault_services() -> None:
    services = {rule.service for rule in (*SIGN_IN, *OPEN)}

    assert services <= {"gateway", "auth"}
    assert not is_public("/v1/sys/mounts") and not is_public("/api/v1/workflows")
