"""Biscuits as bearer credentials at the gateway: each request is verified by the auth service
against the facts the gateway states (operation, namespace, resource, time), and the token's
subject must hold the permission too. A revoked token fails within a second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from assay_common.problems import PROBLEM_MEDIA_TYPE
from tests.auth_api import email
from tests.conftest import Stack
from tests.gateway.members import bearer, consistent, create_namespace, create_user, grant, start
from tests.support import eventually


@dataclass(frozen=True)
class Operator:
    """A user who operates a namespace of their own, and the zookie of that grant."""

    user_id: str
    namespace: str
    zookie: str

    def holding(self, token: str) -> dict[str, str]:
        """Headers that present `token`, with checks that see the grant."""
        return {**bearer(token), **consistent(self.zookie)}


@pytest.fixture
async def operator(stack: Stack, unique: str) -> Operator:
    await create_namespace(stack, unique)
    user = await create_user(stack, email(unique))
    zookie = await grant(stack, f"namespace:{unique}#operator@user:{user}")
    return Operator(user, unique, zookie)


async def issue(stack: Stack, subject: str, **restrictions: Any) -> dict[str, Any]:
    response = await stack.client.post(
        "/api/v1/auth/biscuit/tokens", json={"subject": subject, **restrictions}
    )
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


async def attenuate(stack: Stack, token: str, **restrictions: Any) -> str:
    response = await stack.client.post(
        "/api/v1/auth/biscuit/attenuate", json={"token": token, **restrictions}
    )
    assert response.status_code == 200, response.text
    narrowed: str = response.json()["token"]
    return narrowed


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == code


async def test_an_attenuated_biscuit_views_but_cannot_start_while_the_original_can(
    stack: Stack, operator: Operator
) -> None:
    token = (await issue(stack, operator.user_id))["token"]
    viewer = await attenuate(stack, token, operations=["view"])
    ns = operator.namespace

    listed = await stack.client.get(
        "/api/v1/workflows", params={"namespace": ns}, headers=operator.holding(viewer)
    )
    refused = await stack.client.post("/api/v1/workflows", json=start(ns), headers=operator.holding(viewer))
    started = await stack.client.post("/api/v1/workflows", json=start(ns), headers=operator.holding(token))

    assert listed.status_code == 200, listed.text
    assert_refused(refused, 403, "biscuit_denied")
    assert started.status_code == 201, started.text
    workflow = await stack.client.get(
        f"/api/v1/workflows/{started.json()['workflow_id']}",
        params={"namespace": ns},
        headers=operator.holding(token),
    )
    assert workflow.status_code == 200, workflow.text


async def test_a_biscuit_for_another_namespace_is_refused(
    stack: Stack, operator: Operator, unique: str
) -> None:
    other = f"{unique}-other"
    await create_namespace(stack, other)
    elsewhere = (await issue(stack, operator.user_id, namespaces=[other]))["token"]
    anywhere = (await issue(stack, operator.user_id))["token"]

    # The token's own checks refuse the namespace...
    narrowed = await stack.client.get(
        "/api/v1/workflows", params={"namespace": operator.namespace}, headers=operator.holding(elsewhere)
    )
    # ...and where the token would allow it, its subject has no permission there.
    unpermitted = await stack.client.get(
        "/api/v1/workflows", params={"namespace": other}, headers=operator.holding(anywhere)
    )

    assert_refused(narrowed, 403, "biscuit_denied")
    assert_refused(unpermitted, 403, "permission_denied")
    assert unpermitted.json()["needed"] == f"namespace:{other}#view"


async def test_a_biscuit_is_refused_where_the_gateway_does_not_decide_the_permission(
    stack: Stack, operator: Operator
) -> None:
    token = (await issue(stack, operator.user_id))["token"]

    signed_in_route = await stack.client.get("/api/v1/auth/whoami", headers=operator.holding(token))
    # The namespace of a worker's task only the workflow service knows.
    worker_route = await stack.client.post(
        "/api/v1/workflow-tasks/poll", json={"worker_id": "w"}, headers=operator.holding(token)
    )
    # On a public route it stands for no one and does no harm.
    public_route = await stack.client.get("/api/v1/auth/biscuit/root-keys", headers=operator.holding(token))

    assert_refused(signed_in_route, 403, "biscuit_not_accepted")
    assert_refused(worker_route, 403, "biscuit_not_accepted")
    assert public_route.status_code == 200, public_route.text


async def test_a_revoked_biscuit_fails_at_the_gateway_within_a_second(
    stack: Stack, operator: Operator
) -> None:
    token = (await issue(stack, operator.user_id))["token"]
    params = {"namespace": operator.namespace}

    async def refused() -> bool:
        response = await stack.client.get("/api/v1/workflows", params=params, headers=operator.holding(token))
        return response.status_code == 401

    # Accepted, and the verdict now remembered by the gateway.
    assert not await refused()
    revoked = await stack.client.post("/api/v1/auth/biscuit/revocations", json={"token": token})
    assert revoked.status_code == 201, revoked.text

    await eventually(refused, within=1.0, what="the revoked biscuit refused")
    response = await stack.client.get("/api/v1/workflows", params=params, headers=operator.holding(token))
    assert_refused(response, 401, "invalid_biscuit")
    assert token not in (stack.platform.log_dir / "gateway.log").read_text(), "tokens are never logged"


async def test_a_bearer_token_that_is_no_biscuit_is_401(stack: Stack) -> None:
    response = await stack.client.get("/api/v1/workflows", headers=bearer("A" * 120))

    assert_refused(response, 401, "invalid_biscuit")
