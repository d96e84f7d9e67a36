"""Errors in Vault's form on the Vault-compatible paths (`/v1/...`), for the vault service and the
gateway in front of it: hvac, the `vault`/`bao` CLIs and Vault SDKs read `{"errors": [...]}`.

`install_vault_errors(app)` wraps an app's error handlers (the problem+json ones of
`assay_common.problems`): on a `/v1` path the answer keeps the problem's status and headers, and
the problem's handler still logs and records 401/403 refusals, but the body becomes
`{"errors": ["<detail>"]}`. 409 and 422 become 400, as Vault answers every request it cannot
apply (a CAS mismatch, bad parameters; hvac maps 400 to `InvalidRequest`), and `Sealed` reads
"Vault is sealed", as Vault's.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from assay_common.errors import Sealed

VAULT_PREFIX = "/v1"
#: Statuses Vault answers as 400 (it has no 409/422).
_AS_BAD_REQUEST = frozenset({409, 422})
#: What Vault says when sealed (clients and scripts look for it).
SEALED_MESSAGE = "Vault is sealed"

Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_vault_path(path: str) -> bool:
    return path == VAULT_PREFIX or path.startswith(VAULT_PREFIX + "/")


def errors_response(status: int, messages: list[str], headers: dict[str, str] | None = None) -> JSONResponse:
    """An error in Vault's form."""
    return JSONResponse({"errors": messages}, status_code=status, headers=headers)


def vault_form(problem: Response, error: Exception) -> JSONResponse:
    """The problem answer `problem` (of `error`) in Vault's form, with the same status and headers."""
    body: dict[str, Any] = {}
    if isinstance(problem.body, bytes | memoryview):
        try:
            body = json.loads(bytes(problem.body))
        except ValueError:
            body = {}
    detail = str(body.get("detail") or body.get("title") or "")
    message = SEALED_MESSAGE if isinstance(error, Sealed) else detail
    status = 400 if problem.status_code in _AS_BAD_REQUEST else problem.status_code
    headers = {
        name: value
        for name, value in problem.headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    return errors_response(status, [message] if message else [], headers)


def _on_vault_paths(handler: Handler) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        # The problem handler decides the status, logs and records denials; only the shape changes.
        problem = await handler(request, error)
        return vault_form(problem, error) if is_vault_path(request.url.path) else problem

    return handle


def install_vault_errors(app: FastAPI) -> None:
    """Errors on `/v1` paths in Vault's form; call once the problem handlers are installed."""
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _on_vault_paths(handler)  # type: ignore[arg-type]
