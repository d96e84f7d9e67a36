"""Browsers as the console's HTTP-level tests need them: httpx clients that keep cookies, as a
browser does, anonymous or signed in through `POST /api/v1/auth/login`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.auth_api import PASSWORD, AuthApi, email
from tests.conftest import Stack


@dataclass(frozen=True)
class SignedIn:
    client: httpx.AsyncClient
    user_id: str


async def browser_session(stack: Stack, address: str) -> httpx.AsyncClient:
    """A client that keeps cookies, as a browser does, signed in as `address`."""
    client = httpx.AsyncClient(base_url=stack.url, timeout=30)
    login = await client.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return client


@pytest.fixture
async def admin_session(stack: Stack, auth_api: AuthApi, unique: str) -> AsyncIterator[SignedIn]:
    """A new administrator, signed in."""
    address = email(unique, "admin")
    user = await auth_api.create_user(address, is_admin=True)
    client = await browser_session(stack, address)
    yield SignedIn(client, user["id"])
    await client.aclose()


@pytest.fixture
def admin_browser(admin_session: SignedIn) -> httpx.AsyncClient:
    return admin_session.client


@pytest.fixture
async def user_browser(stack: Stack, auth_api: AuthApi, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    """A new user without any grant, signed in."""
    address = email(unique, "user")
    await auth_api.create_user(address)
    client = await browser_session(stack, address)
    yield client
    await client.aclose()


@pytest.fixture
async def anonymous(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without credentials."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client
