"""Namespaces, users, grants and credentials, made through the gateway by the first administrator
(the stack's client), for the tests of what callers may reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from assay_common.permission_checks import CONSISTENCY_TOKEN_HEADER as CONSISTENCY_HEADER
from tests.auth_api import PASSWORD
from tests.conftest import Stack


def consistent(zookie: str | None) -> dict[str, str]:
    """The header that makes a permission check see the write `zookie` came from."""
    return {CONSISTENCY_HEADER: zookie} if zookie else {}


def bearer(credential: str) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}"}


async def create_namespace(stack: Stack, name: str) -> dict[str, str]:
    """A new namespace; the headers under which its creator's permissions on it show at once."""
    response = await stack.client.post("/api/v1/namespaces", json={"name": name})
    assert response.status_code == 201, response.text
    return consistent(response.headers.get(CONSISTENCY_HEADER))


async def create_user(stack: Stack, email: str) -> str:
    """A new user (no role anywhere) with the test password; its id."""
    response = await stack.client.post("/api/v1/auth/users", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


async def grant(stack: Stack, *relationships: str) -> str:
    """Touch `relationships` in the platform store; the zookie of the write."""
    updates = [{"operation": "touch", "relationship": relationship} for relationship in relationships]
    response = await stack.client.post("/api/v1/auth/permissions/relationships", json={"updates": updates})
    assert response.status_code == 200, response.text
    zookie: str = response.json()["written_at"]
    return zookie


async def api_key(stack: Stack, user_id: str, *scopes: str) -> str:
    """A new API key of the user, with `scopes`."""
    response = await stack.client.post(
        f"/api/v1/auth/users/{user_id}/api-keys", json={"name": "tests", "scopes": list(scopes)}
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


@asynccontextmanager
async def signed_in(stack: Stack, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in through the gateway: the session's cookies, and its CSRF header on
    every request."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as browser:
        response = await browser.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        browser.headers["x-csrf-token"] = response.json()["csrf_token"]
        yield browser


def start(namespace: str | None = None, **fields: object) -> dict[str, object]:
    """The body of a request that starts a workflow (in `main` without a namespace)."""
    body: dict[str, object] = {"workflow_type": "greet", **fields}
    if namespace is not None:
        body["namespace"] = namespace
    return body
