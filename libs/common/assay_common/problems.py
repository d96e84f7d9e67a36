"""RFC 9457 problem+json: the response model, the FastAPI handlers and OpenAPI helpers.

Every 401 and 403 the handlers render is also reported to the app's denial listener, when one
listens (`listen_for_denials`): that is how each refusal becomes an audit record
(`assay_common.events.access_audit`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from assay_common.errors import AssayError

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("assay.problems")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}


#: Answers that refuse the caller: 401 (who is calling is not established) and 403 (not allowed).
DENIED_STATUSES = frozenset({401, 403})


class DenialListener(Protocol):
    def denied(self, request: Request, status: int, code: str, needed: str | None) -> None:
        """A 401/403 problem is being answered to `request`; `needed` is the permission the error
        names. Called on the request's path: must neither block nor raise."""


def listen_for_denials(app: FastAPI, listener: DenialListener | None) -> None:
    """Report every 401/403 problem `app` renders to `listener` (None: to no one)."""
    app.state.denial_listener = listener


def _report_denial(request: Request, status: int, code: str, needed: object = None) -> None:
    listener: DenialListener | None = getattr(request.app.state, "denial_listener", None)
    if listener is None or status not in DENIED_STATUSES:
        return
    try:
        listener.denied(request, status, code, needed if isinstance(needed, str) else None)
    except Exception:
        # The answer goes out whatever happens to its audit record.
        log.exception("the access denial of %s %s could not be recorded", request.method, request.url.path)


class FieldError(BaseModel):
    """One invalid part of the request."""

    location: list[str | int] = Field(description="Where in the request, e.g. ['body', 'name']")
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="URI naming the kind of problem: urn:assay:problem:<code>")
    title: str
    status: int
    detail: str | None = None
    code: str = Field(description="Machine-readable error code")
    instance: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="Invalid fields (status 422)")


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:assay:problem:{code}",
        title=title,
        status=status,
        detail=detail,
        code=code,
        instance=instance,
        errors=errors,
    ).model_dump(exclude_none=True)
    if extensions:
        body.update({k: v for k, v in extensions.items() if k not in body})
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers) if headers else None
    )


def error_response(error: AssayError, instance: str | None = None) -> JSONResponse:
    return problem_response(
        error.status,
        error.code,
        error.title,
        error.detail,
        instance=instance,
        headers=error.headers,
        extensions=error.extensions,
    )


async def _assay_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AssayError)
    if exc.status >= 500:
        log.warning("request failed: %s %s", exc.code, exc.detail)
    _report_denial(request, exc.status, exc.code, exc.extensions.get("needed"))
    return error_response(exc, instance=request.url.path)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may hold a secret.
    errors = [
        FieldError(location=list(err.get("loc", ())), message=str(err.get("msg", "")), type=str(err["type"]))
        for err in exc.errors()
    ]
    return problem_response(
        422,
        "invalid",
        "The request is not valid",
        "; ".join(f"{'.'.join(map(str, e.location))}: {e.message}" for e in errors),
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    title = code.replace("_", " ").capitalize()
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route for {request.method} {request.url.path}"
    _report_denial(request, exc.status_code, code)
    return problem_response(
        exc.status_code, code, title, detail, instance=request.url.path, headers=exc.headers
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        500,
        "internal_error",
        "Internal error",
        "the server failed to handle the request; it has been logged",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AssayError, _assay_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json answers for the given statuses."""
    return {
        status: {
            "description": _STATUS_CODES.get(status, "error").replace("_", " ").capitalize(),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def install_problem_openapi(app: FastAPI) -> None:
    """Make the OpenAPI document tell the truth: validation errors are problem+json, not FastAPI's."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components["FieldError"] = components["Problem"].pop("$defs")["FieldError"]
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "Invalid request", "content": problem_content}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
