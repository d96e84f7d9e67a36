"""The first administrator of a fresh platform, on SQLite and Postgres, and the key that revokes
itself; over HTTP through the running stack's auth service."""

from __future__ import annotations

import asyncio

import pytest

from assay_auth.domain.context import Actor
from assay_auth.domain.errors import AlreadyBootstrapped, EmailTaken
from assay_auth.domain.identity import Identity
from assay_auth.domain.sessions import ClientInfo
from assay_common.internal_auth import Principal
from assay_common.permission_checks import ADMIN_SCOPE
from tests.auth.conftest import outbox_events
from tests.auth_api import PASSWORD, AuthApi, email

TOOLING = Actor(id="assay-up", kind="service")


async def test_the_first_administrator_gets_a_key_and_a_password_link_once(identity: Identity) -> None:
    made = await identity.bootstrap.admin(TOOLING, "admin@localhost")

    assert made.user.is_admin and made.user.password_hash is None
    key = await identity.api_keys.validate(made.api_key)
    assert key.user.id == made.user.id and key.row.scopes == [ADMIN_SCOPE]
    await identity.recovery.reset(made.password_token, PASSWORD, Actor.anonymous())
    signed_in = await identity.sessions.login("admin@localhost", PASSWORD, ClientInfo())
    assert signed_in.user.id == made.user.id
    audited = {event.type for _, event in await outbox_events(identity.ctx.db)}
    assert {"assay.auth.user_created", "assay.auth.api_key_created"} <= audited

    with pytest.raises(AlreadyBootstrapped):
        await identity.bootstrap.admin(TOOLING, "second@localhost")


async def test_no_bootstrap_once_anyone_exists(identity: Identity) -> None:
    await identity.users.create(TOOLING, email="ann@example.com", password=PASSWORD)

    with pytest.raises(AlreadyBootstrapped):
        await identity.bootstrap.admin(TOOLING, "admin@localhost")
    assert [u.email for u in await identity.users.list(search=None, before=None, limit=10)] == [
        "ann@example.com"
    ]


async def test_of_two_bootstraps_at_once_one_makes_the_administrator(identity: Identity) -> None:
    results = await asyncio.gather(
        identity.bootstrap.admin(TOOLING, "one@localhost"),
        identity.bootstrap.admin(TOOLING, "two@localhost"),
        return_exceptions=True,
    )

    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1 and len(refused) == 1
    assert isinstance(refused[0], AlreadyBootstrapped | EmailTaken)
    assert len(await identity.users.list(search=None, before=None, limit=10)) == 1


async def test_bootstrap_is_for_services_only_and_refused_on_a_platform_with_users(
    auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    user = await auth_api.signed_in(email(unique))

    as_user = await auth_api.call(
        "POST", "/internal/v1/bootstrap", user.principal, json={"email": email(unique, "boss")}
    )
    as_service = await auth_api.call("POST", "/internal/v1/bootstrap", json={"email": email(unique, "boss")})

    assert as_user.status_code == 403
    assert as_service.status_code == 409
    assert as_service.json()["code"] == "already_bootstrapped"


async def test_an_api_key_revokes_itself_and_nothing_else_can_use_that_route(
    auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    created = await auth_api.call("POST", "/api/v1/auth/api-keys", me.principal, json={"name": "cli"})
    key = created.json()
    by_session = await auth_api.call("DELETE", "/api/v1/auth/api-keys/self", me.principal)
    assert by_session.status_code == 403 and by_session.json()["code"] == "api_key_required"

    key_principal = Principal(id=me.user_id, kind="api_key", api_key_id=key["id"])
    revoked = await auth_api.call("DELETE", "/api/v1/auth/api-keys/self", key_principal)
    assert revoked.status_code == 204, revoked.text
    listed = await auth_api.call("GET", "/api/v1/auth/api-keys", me.principal)
    assert [k["id"] for k in listed.json()["items"]] == []
