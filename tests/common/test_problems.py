"""Errors become RFC 9457 problem+json; unexpected ones a logged 500 without internals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from assay_common.errors import Conflict
from assay_common.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers, install_problem_openapi


class Body(BaseModel):
    name: str
    size: int


class WidgetTaken(Conflict):
    code = "widget_taken"
    title = "The widget is taken"


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_problem_openapi(app)

    @app.post("/widgets")
    async def create(body: Body) -> Body:
        if body.name == "taken":
            raise WidgetTaken("widget 'taken' exists; choose another name", widget="taken")
        return body

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("connection to postgresql://app:hunter2@db failed")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_domain_error_is_a_problem_with_its_code_and_extensions(client: httpx.AsyncClient) -> None:
    response = await client.post("/widgets", json={"name": "taken", "size": 1})
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json() == {
        "type": "urn:assay:problem:widget_taken",
        "title": "The widget is taken",
        "status": 409,
        "detail": "widget 'taken' exists; choose another name",
        "code": "widget_taken",
        "instance": "/widgets",
        "widget": "taken",
    }


async def test_validation_error_is_422_listing_fields_without_echoing_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/widgets", json={"name": "x", "size": "s3cr3t-value"})
    problem = response.json()
    assert response.status_code == 422
    assert problem["code"] == "invalid"
    assert [e["location"] for e in problem["errors"]] == [["body", "size"]]
    assert "s3cr3t-value" not in response.text


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    wrong = await client.delete("/widgets")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
    assert wrong.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_unexpected_error_is_logged_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="assay.problems"):
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "hunter2" not in response.text and "postgresql" not in response.text
    assert any("GET /boom" in record.getMessage() for record in caplog.records)


def test_openapi_documents_validation_errors_as_problems() -> None:
    schema = make_app().openapi()
    response = schema["paths"]["/widgets"]["post"]["responses"]["422"]
    assert response["content"][PROBLEM_MEDIA_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
