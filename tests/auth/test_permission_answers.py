"""Other services ask the auth service for permission checks over NATS request/reply
(`assay_common.permission_checks`): answers hold at a revision, are cached by the asker, end with
the store's change events, and a zookie makes an answer at least as fresh as its write."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from assay_common.events.bus import EventBus
from assay_common.internal_auth import Principal
from assay_common.permission_checks import (
    CheckRefused,
    InvalidZookie,
    PermissionChecks,
    PermissionDenied,
    ScopeNotHeld,
    namespace,
    platform,
)
from tests.auth_api import AuthApi
from tests.conftest import Stack
from tests.support import eventually

RELATIONSHIPS = "/api/v1/auth/permissions/relationships"


@pytest.fixture
async def checks(stack: Stack) -> AsyncIterator[PermissionChecks]:
    bus = EventBus(stack.nats.url, stack.subjects, events_max_age=3600, audit_max_age=3600)
    await bus.connect()
    # A long cache: answers here end only through events and zookies.
    client = PermissionChecks(bus, cache_seconds=3600)
    await client.start()
    yield client
    await client.stop()
    await bus.close()


async def write(auth_api: AuthApi, operation: str, relationship: str) -> str:
    body = {"updates": [{"operation": operation, "relationship": relationship}]}
    response = await auth_api.call("POST", RELATIONSHIPS, json=body)
    assert response.status_code == 200, response.text
    zookie: str = response.json()["written_at"]
    return zookie


async def test_a_check_with_the_zookie_of_a_write_sees_it(
    checks: PermissionChecks, auth_api: AuthApi, unique: str
) -> None:
    subject = f"user:{unique}"
    need = namespace(unique, "view")
    assert await checks.allowed(subject, [need]) == [False]
    zookie = await write(auth_api, "touch", f"namespace:{unique}#viewer@{subject}")
    assert await checks.allowed(subject, [need], at_least=zookie) == [True]
    # The change event reaches the cache too: without the zookie the new answer holds as well.
    zookie = await write(auth_api, "delete", f"namespace:{unique}#viewer@{subject}")

    async def revoked() -> bool:
        return await checks.allowed(subject, [need]) == [False]

    await eventually(revoked)
    assert await checks.allowed(subject, [need], at_least=zookie) == [False]


async def test_principals_are_held_to_their_scopes(
    checks: PermissionChecks, auth_api: AuthApi, unique: str
) -> None:
    zookie = await write(auth_api, "touch", f"namespace:{unique}#operator@user:{unique}")
    session = Principal(id=unique, kind="user")
    await checks.require(session, namespace(unique, "operate"), at_least=zookie)
    with pytest.raises(PermissionDenied):
        await checks.require(session, namespace(unique, "administer"), at_least=zookie)
    viewing_key = Principal(id=unique, kind="api_key", scopes=(f"namespace:{unique}#view",))
    await checks.require(viewing_key, namespace(unique, "view"), at_least=zookie)
    with pytest.raises(ScopeNotHeld):
        await checks.require(viewing_key, namespace(unique, "operate"), at_least=zookie)
    unscoped_key = Principal(id=unique, kind="api_key")
    assert await checks.permitted(unscoped_key, [namespace(unique, "view")]) == [False]
    # Scopes never grant: an administrator's scope on a key of someone who is not one.
    admin_scoped = Principal(id=unique, kind="api_key", scopes=("admin",))
    assert await checks.permitted(admin_scoped, [namespace(unique, "operate"), platform("view")]) == [
        True,
        False,
    ]
    service = Principal(id="workflow", kind="service")
    assert await checks.permitted(service, [platform("administer")]) == [True]


async def test_what_cannot_be_checked_is_refused_at_once(checks: PermissionChecks) -> None:
    with pytest.raises(CheckRefused):
        await checks.allowed("user:x", [namespace("has space", "view")])
    with pytest.raises(InvalidZookie):
        await checks.allowed("user:x", [namespace("n", "view")], at_least="not-a-zookie")


async def test_platform_roles_reach_namespaces_that_are_not_linked(
    checks: PermissionChecks, auth_api: AuthApi, unique: str
) -> None:
    zookie = await write(auth_api, "touch", f"platform:assay#operator@user:{unique}")
    operator = Principal(id=unique, kind="user")
    # No namespace of this name exists, so it has no link to the platform.
    needs = [namespace(unique, "operate"), namespace(unique, "work"), namespace(unique, "administer")]
    assert await checks.permitted(operator, needs, at_least=zookie) == [True, True, False]
    # The store itself answers by the schema: without the link, no platform role reaches it.
    assert (await checks.allowed(f"user:{unique}", [platform("operate")], at_least=zookie)) == [True]
