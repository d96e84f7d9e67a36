"""The first administrator made from the first-run page (`/api/v1/auth/setup`), on SQLite and
Postgres, and through the running stack (which has its bootstrap administrator already)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from assay_auth.domain.context import Actor
from assay_auth.domain.errors import AlreadySetUp, EmailTaken, WeakPassword
from assay_auth.domain.identity import Identity
from assay_auth.domain.sessions import ClientInfo
from assay_common.db import Database
from tests.auth.conftest import ManualClock, make_identity, outbox_events
from tests.auth_api import PASSWORD
from tests.conftest import Stack


async def test_the_first_administrator_is_made_once_with_a_password(identity: Identity) -> None:
    assert await identity.bootstrap.setup_needed()

    made = await identity.bootstrap.first_administrator(
        email="root@example.com", display_name="Root", password=PASSWORD, address="10.0.0.1"
    )

    assert made.is_admin and made.password_hash is not None and made.display_name == "Root"
    signed_in = await identity.sessions.login("root@example.com", PASSWORD, ClientInfo())
    assert signed_in.user.id == made.id
    [(_, created)] = await outbox_events(identity.ctx.db, "user_created")
    assert created.data["actor_id"] == str(made.id) and created.data["client_address"] == "10.0.0.1"
    assert not await identity.bootstrap.setup_needed()
    with pytest.raises(AlreadySetUp):
        await identity.bootstrap.first_administrator(
            email="second@example.com", display_name="", password=PASSWORD
        )


async def test_no_setup_once_anyone_exists(identity: Identity) -> None:
    await identity.users.create(Actor(id="tests", kind="service"), email="ann@example.com", password=PASSWORD)

    assert not await identity.bootstrap.setup_needed()
    with pytest.raises(AlreadySetUp):
        await identity.bootstrap.first_administrator(
            email="root@example.com", display_name="", password=PASSWORD
        )


async def test_of_two_setups_at_once_one_makes_the_administrator(identity: Identity) -> None:
    results = await asyncio.gather(
        identity.bootstrap.first_administrator(email="one@example.com", display_name="", password=PASSWORD),
        identity.bootstrap.first_administrator(email="two@example.com", display_name="", password=PASSWORD),
        return_exceptions=True,
    )

    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], AlreadySetUp | EmailTaken)
    assert len(await identity.users.list(search=None, before=None, limit=10)) == 1


async def test_setup_is_off_when_newcomers_may_not_administer(auth_db: Database, clock: ManualClock) -> None:
    identity = make_identity(auth_db, clock, first_user_becomes_admin=False)

    assert not await identity.bootstrap.setup_needed()
    with pytest.raises(AlreadySetUp):
        await identity.bootstrap.first_administrator(
            email="root@example.com", display_name="", password=PASSWORD
        )
    assert await identity.users.list(search=None, before=None, limit=10) == []


async def test_a_weak_password_makes_no_administrator(identity: Identity) -> None:
    with pytest.raises(WeakPassword):
        await identity.bootstrap.first_administrator(
            email="root@example.com", display_name="", password="short"
        )
    assert await identity.bootstrap.setup_needed()


async def test_the_setup_routes_are_public_and_refuse_once_set_up(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as anonymous:
        state = await anonymous.get("/api/v1/auth/setup")
        made = await anonymous.post(
            "/api/v1/auth/setup",
            json={"email": "late@example.com", "display_name": "Late", "password": PASSWORD},
        )
        malformed = await anonymous.post("/api/v1/auth/setup", json={"email": "x@example.com"})

    assert state.status_code == 200 and state.json() == {"needed": False}
    assert made.status_code == 409 and made.json()["code"] == "already_set_up"
    assert malformed.status_code == 422
