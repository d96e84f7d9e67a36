"""`/api/v1/openapi.json`: every service's API as one valid OpenAPI 3.1 document; `/api/v1/docs`."""

from __future__ import annotations

import re
from typing import Any

import httpx
from openapi_spec_validator import validate

from assay_gateway.openapi_merge import STANDARD_PATHS, merge
from assay_gateway.routing import service_for
from tests.conftest import Stack

PROBLEM = {"type": "object", "properties": {"code": {"type": "string"}}}


def document(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def operation(schema: str, operation_id: str = "op") -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    responses = {"200": {"description": "ok", "content": content}}
    return {"get": {"operationId": operation_id, "responses": responses}}


async def test_merged_document_is_valid_openapi_31_with_every_service_path(stack: Stack) -> None:
    merged = (await stack.client.get("/api/v1/openapi.json")).json()

    validate(merged)
    assert merged["openapi"].startswith("3.1.")
    assert "x-assay-missing-services" not in merged
    for service in ("workflow", "auth", "vault", "dashboard"):
        async with httpx.AsyncClient(base_url=stack.platform.service_url(service)) as direct:
            own = (await direct.get("/openapi.json")).json()
        routed = {p for p in own["paths"] if p not in STANDARD_PATHS and service_for(p) == service}
        assert routed <= set(merged["paths"]), service
    assert "/api/v1/namespaces" in merged["paths"]
    assert {"/api/v1/health", "/api/v1/events/stream", "/api/v1/openapi.json"} <= set(merged["paths"])
    assert not STANDARD_PATHS & set(merged["paths"])


def test_equal_components_are_shared_and_clashing_ones_renamed() -> None:
    gateway = document({"/api/v1/health": operation("Problem", "health")}, {"Problem": PROBLEM})
    workflow = document(
        {"/api/v1/workflows": operation("Item", "list"), "/healthz": operation("Problem", "healthz")},
        {"Problem": PROBLEM, "Item": {"type": "object", "properties": {"id": {"type": "string"}}}},
    )
    vault = document(
        {"/api/v1/vault/kv": operation("Page", "list")},
        {
            "Item": {"type": "object", "properties": {"key": {"type": "string"}}},
            "Page": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
        },
    )

    merged = merge(gateway, {"workflow": workflow, "vault": vault}, title="Assay", version="1")

    validate(merged)
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Problem", "Item", "vault_Item", "Page"}
    assert schemas["Page"]["items"] == {"$ref": "#/components/schemas/vault_Item"}
    assert set(merged["paths"]) == {"/api/v1/health", "/api/v1/workflows", "/api/v1/vault/kv"}
    assert merged["paths"]["/api/v1/vault/kv"]["get"]["operationId"] == "vault_list"


def test_a_service_path_the_gateway_routes_elsewhere_is_left_out() -> None:
    stray = document({"/api/v1/namespaces": operation("Problem")}, {"Problem": PROBLEM})

    merged = merge(document({}, {}), {"vault": stray}, title="Assay", version="1")

    assert merged["paths"] == {}
    assert "components" not in merged or not merged["components"]


async def test_docs_page_loads_only_assets_of_its_own_origin(stack: Stack) -> None:
    page = await stack.client.get("/api/v1/docs")

    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert references
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        asset = await stack.client.get(reference)
        assert asset.status_code == 200, reference
    script = (await stack.client.get("/api/v1/docs/assets/docs.js")).text
    assert '"/api/v1/openapi.json"' in script
    assert "validatorUrl: null" in script


async def test_an_unknown_docs_asset_is_404(stack: Stack) -> None:
    response = await stack.client.get("/api/v1/docs/assets/index.html")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
