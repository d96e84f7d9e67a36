"""The gateway enforces the route → permission table before a request reaches a service: a
permission on an object named by the path, the query or the JSON body, checked against the
permission store and the credential's scopes; every refusal a problem."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from assay_common.permission_checks import CONSISTENCY_TOKEN_HEADER as CONSISTENCY_HEADER
from assay_common.problems import PROBLEM_MEDIA_TYPE
from tests.auth_api import email
from tests.conftest import Stack
from tests.gateway.conftest import SideGateway, running_side_gateway
from tests.gateway.members import (
    api_key,
    bearer,
    consistent,
    create_namespace,
    create_user,
    grant,
    signed_in,
    start,
)
from tests.gateway.upstream import FakeService

#: The most body the guarded gateway reads to find a request's namespace.
SMALL_BODY_LIMIT = 1024


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == code


@pytest.fixture(scope="module")
async def guarded(
    stack: Stack, fake_service: FakeService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SideGateway]:
    """A gateway in front of the fake service as the workflow service, reading bodies of at most
    `SMALL_BODY_LIMIT` bytes: what reaches the service is there to see."""
    async with running_side_gateway(
        stack,
        tmp_path_factory,
        "guarded-gateway",
        workflow_url=fake_service.url,
        extra_env={"ASSAY_GATEWAY_MAX_AUTHORIZED_BODY_BYTES": str(SMALL_BODY_LIMIT)},
    ) as gateway:
        yield gateway


async def test_a_namespace_viewer_lists_its_workflows_but_starts_none_and_sees_no_other_namespace(
    stack: Stack, unique: str
) -> None:
    a, b = f"{unique}-a", f"{unique}-b"
    await create_namespace(stack, a)
    await create_namespace(stack, b)
    user = await create_user(stack, email(unique))
    zookie = await grant(stack, f"namespace:{a}#viewer@user:{user}")

    async with signed_in(stack, email(unique)) as browser:
        browser.headers.update(consistent(zookie))
        listed = await browser.get("/api/v1/workflows", params={"namespace": a})
        started = await browser.post("/api/v1/workflows", json=start(a))
        elsewhere = await browser.get("/api/v1/workflows", params={"namespace": b})

    assert listed.status_code == 200, listed.text
    assert_refused(started, 403, "permission_denied")
    assert started.json()["needed"] == f"namespace:{a}#operate"
    assert_refused(elsewhere, 403, "permission_denied")
    assert elsewhere.json()["needed"] == f"namespace:{b}#view"


async def test_an_api_key_scoped_to_one_namespace_reaches_no_other(stack: Stack, unique: str) -> None:
    a, b = f"{unique}-a", f"{unique}-b"
    await create_namespace(stack, a)
    await create_namespace(stack, b)
    user = await create_user(stack, email(unique))
    # The user may operate both: only the key's scope keeps it out of `b`.
    zookie = await grant(stack, f"namespace:{a}#operator@user:{user}", f"namespace:{b}#operator@user:{user}")
    headers = {**bearer(await api_key(stack, user, f"namespace:{a}#operate")), **consistent(zookie)}

    listed = await stack.client.get("/api/v1/workflows", params={"namespace": a}, headers=headers)
    started = await stack.client.post("/api/v1/workflows", json=start(a), headers=headers)
    listed_elsewhere = await stack.client.get("/api/v1/workflows", params={"namespace": b}, headers=headers)
    started_elsewhere = await stack.client.post("/api/v1/workflows", json=start(b), headers=headers)
    # The gateway's own routes are in the table too: the event stream needs platform:assay#view.
    events = await stack.client.get("/api/v1/events/stream", headers=headers)

    assert listed.status_code == 200, listed.text
    assert started.status_code == 201, started.text
    for refused in (listed_elsewhere, started_elsewhere, events):
        assert_refused(refused, 403, "scope_not_held")


async def test_a_body_row_decides_on_the_namespace_the_body_names(stack: Stack, unique: str) -> None:
    user = await create_user(stack, email(unique))
    zookie = await grant(
        stack, f"namespace:{unique}#operator@user:{user}", f"namespace:main#operator@user:{user}"
    )
    await create_namespace(stack, unique)

    async with signed_in(stack, email(unique)) as browser:
        browser.headers.update(consistent(zookie))
        named = await browser.post("/api/v1/workflows", json=start(unique))
        unnamed = await browser.post("/api/v1/workflows", json=start())  # main, by default
        elsewhere = await browser.post("/api/v1/workflows", json=start(f"{unique}-b"))
        # Whatever the gateway cannot read a namespace from is checked on the default (main), and
        # the service judges the request itself.
        malformed = [
            await browser.post("/api/v1/workflows", json={"namespace": 5, "workflow_type": "greet"}),
            await browser.post("/api/v1/workflows", json=[start(unique)]),
            await browser.post(
                "/api/v1/workflows", content=b'{"namespace": ', headers={"content-type": "application/json"}
            ),
            await browser.post("/api/v1/workflows", content="[" * 100_000),
        ]

    assert named.status_code == 201, named.text
    assert unnamed.status_code == 201, unnamed.text
    assert_refused(elsewhere, 403, "permission_denied")
    assert elsewhere.json()["needed"] == f"namespace:{unique}-b#operate"
    for response in malformed:
        assert response.status_code == 422, response.text


async def test_the_consistency_token_makes_a_fresh_grant_count_at_once(stack: Stack, unique: str) -> None:
    await create_namespace(stack, unique)
    user = await create_user(stack, email(unique))
    key = bearer(await api_key(stack, user, f"namespace:{unique}#view"))
    # Refused, and the refusal is now remembered by the gateway.
    before = await stack.client.get("/api/v1/workflows", params={"namespace": unique}, headers=key)

    zookie = await grant(stack, f"namespace:{unique}#viewer@user:{user}")
    after = await stack.client.get(
        "/api/v1/workflows", params={"namespace": unique}, headers={**key, **consistent(zookie)}
    )
    foreign = await stack.client.get(
        "/api/v1/workflows", params={"namespace": unique}, headers={**key, CONSISTENCY_HEADER: "not-a-zookie"}
    )

    assert_refused(before, 403, "permission_denied")
    assert after.status_code == 200, after.text
    assert_refused(foreign, 422, "invalid_zookie")


async def test_a_body_read_to_authorize_reaches_the_service_byte_for_byte(
    stack: Stack, guarded: SideGateway, fake_service: FakeService, unique: str
) -> None:
    user = await create_user(stack, email(unique))
    zookie = await grant(stack, f"namespace:{unique}#operator@user:{user}")
    key = await api_key(stack, user, f"namespace:{unique}#operate")
    # Spacing, an escape and raw UTF-8 as the client wrote them: the service gets these very bytes.
    body = (
        f'{{ "namespace" :"{unique}",\n\t"workflow_type": "greet", "input": "caf\\u00e9 \u2615" }}'.encode()
    )

    async def chunked() -> AsyncIterator[bytes]:
        yield body[:10]
        yield body[10:]

    response = await guarded.client.post(
        "/api/v1/workflows",
        content=chunked(),
        headers={**bearer(key), **consistent(zookie), "content-type": "application/json"},
    )

    assert response.json() == {"detail": "not here"}, "the fake service's own answer"
    received = fake_service.last("/api/v1/workflows")
    assert received.body == body
    assert received.header(CONSISTENCY_HEADER) == [zookie], "the service checks again with it"


async def test_a_refused_request_never_reaches_the_service(
    stack: Stack, guarded: SideGateway, fake_service: FakeService, unique: str
) -> None:
    user = await create_user(stack, email(unique))
    key = bearer(await api_key(stack, user, f"namespace:{unique}#operate"))

    def reached() -> int:
        return sum(r.target.startswith("/api/v1/workflows") for r in fake_service.requests)

    before = reached()
    started = await guarded.client.post("/api/v1/workflows", json=start(unique), headers=key)
    listed = await guarded.client.get("/api/v1/workflows", params={"namespace": "main"}, headers=key)

    assert_refused(started, 403, "permission_denied")
    assert_refused(listed, 403, "scope_not_held")
    assert reached() == before


async def test_a_body_beyond_the_limit_is_413_and_one_at_the_limit_is_read(
    stack: Stack, guarded: SideGateway, fake_service: FakeService, unique: str
) -> None:
    user = await create_user(stack, email(unique))
    zookie = await grant(stack, f"namespace:{unique}#operator@user:{user}")
    headers = {**bearer(await api_key(stack, user, f"namespace:{unique}#operate")), **consistent(zookie)}
    at_limit = json.dumps(start(unique)).encode().ljust(SMALL_BODY_LIMIT)

    async def streamed() -> AsyncIterator[bytes]:
        # No Content-Length: the gateway stops reading at the limit.
        for _ in range(2):
            yield b" " * SMALL_BODY_LIMIT

    declared = await guarded.client.post("/api/v1/workflows", content=at_limit + b" ", headers=headers)
    undeclared = await guarded.client.post("/api/v1/workflows", content=streamed(), headers=headers)
    read = await guarded.client.post("/api/v1/workflows", content=at_limit, headers=headers)

    for refused in (declared, undeclared):
        assert_refused(refused, 413, "body_too_large")
    assert read.status_code == 404, "passed on to the fake service, which answers 404"
    assert fake_service.last("/api/v1/workflows").body == at_limit
