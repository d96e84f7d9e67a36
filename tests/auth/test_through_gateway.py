"""The public routes of the auth service through the gateway, as a browser reaches them."""

from __future__ import annotations

import httpx

from tests.auth_api import AuthApi, email
from tests.conftest import Stack


async def test_sign_in_through_the_gateway_sets_the_cookies(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    response = await stack.client.post(
        "/api/v1/auth/login", json={"email": email(unique), "password": "correct horse battery staple"}
    )
    stack.client.cookies.clear()
    assert response.status_code == 200, response.text
    assert {"assay_session", "assay_csrf"} <= set(response.cookies.keys())
    session = response.json()["session"]
    assert session["client_address"] == "127.0.0.1", "the address the gateway saw"


async def test_anonymous_callers_get_401_problems_and_recovery_answers_202(stack: Stack, unique: str) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as anonymous:
        whoami = await anonymous.get("/api/v1/auth/whoami")
        users = await anonymous.get("/api/v1/auth/users")
        recovery = await anonymous.post("/api/v1/auth/password/recovery", json={"email": email(unique)})
    assert whoami.status_code == 401 and whoami.headers["content-type"] == "application/problem+json"
    assert users.status_code == 401
    assert recovery.status_code == 202
