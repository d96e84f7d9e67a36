"""Every 401/403 of every service is an `access_denied` audit record, and the auth service's audit
log (`GET /api/v1/auth/audit`) shows the records of every service."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx
import nats
import pytest
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

from assay_auth.domain.audit import CONSUMER_NAME, FORMER_CONSUMER_NAME
from tests.auth_api import AuthApi, auth_process, email
from tests.conftest import Stack
from tests.support import eventually

Record = dict[str, Any]


async def denial(api: AuthApi, found: Callable[[Record], bool], **filters: str) -> Record:
    """The access-denied record of the audit log that `found` picks, once it is there."""
    matching: list[Record] = []

    async def logged() -> bool:
        params = {"action": "access_denied", "limit": 500, **filters}
        response = await api.call("GET", "/api/v1/auth/audit", params=params)
        assert response.status_code == 200, response.text
        matching[:] = [r for r in response.json()["items"] if found(r)]
        return bool(matching)

    await eventually(logged, what=f"the access-denied record ({filters}) in the audit log")
    (record,) = matching
    return record


def on_path(path: str) -> Callable[[Record], bool]:
    return lambda record: record["data"]["path"] == path


async def test_a_refusal_by_the_auth_service_is_in_the_audit_log(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    refused = await auth_api.call(
        "GET",
        "/api/v1/auth/users",
        me.principal,
        address="10.20.30.40",
        params={"search": "s3cr3t-in-the-query"},
        headers={"cookie": f"assay_session={me.secret}"},
    )
    assert refused.status_code == 403, refused.text

    record = await denial(auth_api, on_path("/api/v1/auth/users"), actor=me.user_id, service="auth")
    assert (record["actor_kind"], record["client_address"], record["target_type"], record["target_id"]) == (
        "user",
        "10.20.30.40",
        "platform",
        "assay",
    )
    data = record["data"]
    assert (data["method"], data["status"], data["code"], data["needed"]) == (
        "GET",
        403,
        "admin_required",
        "platform:assay#administer",
    )
    assert me.secret not in str(record) and "s3cr3t-in-the-query" not in str(record)


async def test_a_user_without_grants_refused_a_namespace_is_in_the_audit_log(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    user = await auth_api.create_user(email(unique))
    made = await stack.client.post(f"/api/v1/auth/users/{user['id']}/api-keys", json={"name": "ci"})
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    async with httpx.AsyncClient(base_url=stack.url, headers={"authorization": f"Bearer {key}"}) as client:
        refused = await client.get("/api/v1/workflows", params={"namespace": unique})
    assert refused.status_code == 403, refused.text

    # Refused by the gateway or by the workflow service, whichever enforces first: one record.
    record = await denial(auth_api, on_path("/api/v1/workflows"), target=unique)
    assert record["service"] in ("gateway", "workflow")
    assert (record["actor_id"], record["actor_kind"], record["target_type"]) == (
        user["id"],
        "api_key",
        "namespace",
    )
    assert (record["data"]["status"], record["data"]["needed"]) == (403, f"namespace:{unique}#view")
    assert key not in str(record)


async def test_a_wrong_api_key_at_the_gateway_is_in_the_audit_log(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    wrong = f"assay_{secrets.token_urlsafe(32)}"
    path = f"/api/v1/namespaces/{unique}"
    async with httpx.AsyncClient(base_url=stack.url) as client:
        refused = await client.get(path, headers={"authorization": f"Bearer {wrong}"})
    assert refused.status_code == 401, refused.text

    record = await denial(auth_api, on_path(path), service="gateway")
    assert (record["actor_id"], record["actor_kind"], record["data"]["status"]) == (None, "unknown", 401)
    assert record["client_address"]
    assert wrong not in str(record)


async def test_a_call_without_an_internal_token_is_refused_and_audited_by_the_service(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    path = f"/api/v1/namespaces/{unique}"
    async with httpx.AsyncClient(base_url=stack.platform.service_url("workflow")) as client:
        refused = await client.get(path)
    assert refused.status_code == 401, refused.text

    record = await denial(auth_api, on_path(path), service="workflow")
    assert (record["actor_kind"], record["data"]["status"]) == ("unknown", 401)


async def test_the_audit_log_follows_every_audit_subject_and_retires_the_former_consumer(
    stack: Stack, auth_api: AuthApi
) -> None:
    subjects = stack.subjects
    connection = await nats.connect(stack.nats.url)
    try:
        js = connection.jetstream()
        former = ConsumerConfig(
            durable_name=FORMER_CONSUMER_NAME, filter_subject=f"{subjects.audit_prefix}.auth.>"
        )
        await js.add_consumer(subjects.audit_stream, former)
        env = {
            **stack.nats.env(),
            **({"ASSAY_DATABASE_URL": stack.database_url} if stack.database_url else {}),
        }
        # A replica of this release starting beside the stack's.
        async with auth_process(stack.platform, "auth-audit-upgrade", env):
            with pytest.raises(NotFoundError):
                await js.consumer_info(subjects.audit_stream, FORMER_CONSUMER_NAME)
        info = await js.consumer_info(subjects.audit_stream, CONSUMER_NAME)
        assert info.config.filter_subject == f"{subjects.audit_prefix}.>"
    finally:
        await connection.close()
