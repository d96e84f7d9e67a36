"""Every service has the same standard endpoints, and refuses callers without an internal token."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate

from assay_common.internal_auth import (
    INTERNAL_TOKEN_HEADER,
    InternalTokenMinter,
    Principal,
    generate_private_key_pem,
    load_private_key,
)
from tests.conftest import Stack

SERVICES = ("workflow", "auth", "vault", "gateway", "dashboard")
WITH_STORE = ("workflow", "auth", "vault")


@pytest.mark.parametrize("service", SERVICES)
async def test_liveness_readiness_version_and_metrics(stack: Stack, service: str) -> None:
    async with httpx.AsyncClient(base_url=stack.platform.service_url(service)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": service}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        checks = ready.json()["checks"]
        assert checks["nats"] == "ok"
        if service in WITH_STORE:
            assert (checks["database"], checks["migrations"]) == ("ok", "ok")
        assert (await client.get("/version")).json()["service"] == service
        metrics = await client.get("/metrics")
        assert "assay_http_requests_total" in metrics.text


@pytest.mark.parametrize("service", SERVICES)
async def test_openapi_document_is_valid(stack: Stack, service: str) -> None:
    async with httpx.AsyncClient(base_url=stack.platform.service_url(service)) as client:
        document = (await client.get("/openapi.json")).json()
    validate(document)
    assert document["openapi"].startswith("3.1")


async def test_service_reached_directly_without_token_answers_401(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.platform.service_url("workflow")) as client:
        response = await client.get("/api/v1/namespaces")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_token_signed_by_a_foreign_key_is_refused(stack: Stack) -> None:
    forged = InternalTokenMinter(load_private_key(generate_private_key_pem())).mint(
        Principal(id="root", kind="user"), "workflow"
    )
    async with httpx.AsyncClient(base_url=stack.platform.service_url("workflow")) as client:
        response = await client.get("/api/v1/namespaces", headers={INTERNAL_TOKEN_HEADER: forged})
    assert response.status_code == 401


async def test_token_for_another_service_is_refused(stack: Stack) -> None:
    key = load_private_key((stack.platform.data_dir / "internal.key").read_bytes())
    token = InternalTokenMinter(key).mint(Principal.anonymous(), "vault")
    async with httpx.AsyncClient(base_url=stack.platform.service_url("workflow")) as client:
        response = await client.get("/api/v1/namespaces", headers={INTERNAL_TOKEN_HEADER: token})
    assert response.status_code == 401


async def test_dashboard_page_requires_the_internal_token(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.platform.service_url("dashboard")) as client:
        assert (await client.get("/")).status_code == 401
