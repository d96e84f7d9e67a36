"""Every request the vault answers leaves an audit record, or is not answered.

`RequestAudit` (an ASGI middleware, installed by `install_request_audit`) writes one
`assay.vault.request` record (`assay_common.events.schemas.vault_audit`) for each request to a route
of the vault, once the route has answered and before the first byte of the answer leaves: it holds
the answer's `http.response.start`, writes the record through the outbox in a transaction of its
own (shared with the records of other requests answered meanwhile: `AuditRecords`), then lets
the answer go. The record names the caller, the route's operation
(`operations.OPERATIONS`), the mount, secret path, key or sink the path named, the status, the
problem's code and the request id; never a body value, a header, a token or the query string.

If the record cannot be written the caller gets **503 `audit_unavailable`** instead of the answer
(Vault's `{"errors": […]}` on `/v1`): the vault fails closed, as Vault refuses requests it cannot
audit. An unexpected error (a 500) is recorded before it propagates.

Not recorded: the routes of `operations.UNAUDITED` (health, seal status, readiness, metrics, the
OpenAPI document); 401 and 403 answers, which are `assay.vault.access_denied` records
(`assay_common.events.access_audit`); requests that matched no route (the router's 404 or 405:
no operation ran).

**The window.** The record is written after the operation's own transaction committed: a crash of
the process between the two commits leaves an operation without its record (the caller never got
an answer, so from its side the request failed). A record, once written, is published by the
outbox relay even after a crash. If the record's write fails, the operation stays done though the
caller was told 503 (a write may have happened: read before writing again).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay_common.events.access_audit import MAX_PATH, client_address
from assay_common.events.schemas.vault_audit import VaultRequest
from assay_common.internal_auth import Principal
from assay_common.problems import DENIED_STATUSES, problem_response
from assay_vault.api.operations import UNAUDITED, operation_of
from assay_vault.api.vault_dialect import errors_response, is_vault_path
from assay_vault.domain.audit_records import AuditRecords

log = logging.getLogger("assay.vault.request_audit")

Handler = Callable[[Request, Exception], Awaitable[Response]]
#: The longest value taken from a path parameter (a secret's path is at most 1024 characters).
MAX_PARAMETER = 1024
#: Where the problem handlers leave the code of the problem they answered (`request.state`).
PROBLEM_CODE = "problem_code"
#: The record's fields taken from the route's path parameters, by parameter name.
PARAMETER_FIELDS = {"mount": "mount", "path": "secret_path", "name": "key_name", "sink": "sink"}


class RequestAudit:
    """The ASGI middleware: one audit record per answered request (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        replaced = False

        async def send_audited(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the answer was replaced by the 503: the rest of the original goes nowhere
            if message["type"] == "http.response.start" and not started:
                started = True
                if not await self._recorded(scope, message["status"]):
                    replaced = True
                    await unavailable(scope)(scope, receive, send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            if not started:
                scope.setdefault("state", {})[PROBLEM_CODE] = "internal_error"
                await self._recorded(scope, 500)
            raise

    async def _recorded(self, scope: Scope, status: int) -> bool:
        """Whether the request is recorded (or needs no record); False when the write failed."""
        record = record_of(scope, status)
        if record is None:
            return True
        records: AuditRecords = scope["app"].state.audit_records
        try:
            await records.write(record)
        except Exception as exc:
            # Whatever kept the record from being written, the answer must not leave without it.
            log.error(
                "the audit record of %s %s could not be written (%s); answering 503",
                record.method,
                record.path,
                type(exc).__name__,
            )
            return False
        return True


def record_of(scope: Scope, status: int) -> VaultRequest | None:
    """The audit record of the request `scope` answered with `status`; None when it gets none."""
    route = scope.get("route")
    method = scope["method"]
    template: str | None = getattr(route, "path", None)
    methods: set[str] = getattr(route, "methods", None) or set()
    if template is None or template in UNAUDITED or status in DENIED_STATUSES:
        return None
    if method not in methods and not (method == "HEAD" and "GET" in methods):
        return None  # the router's 405: the route of another method
    request = Request(scope)
    state: dict[str, Any] = scope.get("state", {})
    principal = state.get("principal")
    known = principal if isinstance(principal, Principal) else Principal.anonymous()
    parameters = {
        PARAMETER_FIELDS[name]: str(value)[:MAX_PARAMETER]
        for name, value in scope.get("path_params", {}).items()
        if name in PARAMETER_FIELDS
    }
    mount = parameters.get("mount")
    request_id = state.get("request_id")
    return VaultRequest(
        actor_id=None if known.kind == "anonymous" else known.id,
        actor_kind=known.kind,
        api_key_id=known.api_key_id,
        client_address=client_address(request),
        target_type="vault_mount" if mount else None,
        target_id=mount,
        dialect="vault" if is_vault_path(scope["path"]) else "native",
        method=method,
        path=scope["path"][:MAX_PATH],
        operation=operation_of(method, template, request.query_params),
        status=status,
        outcome="ok" if status < 400 else "error",
        code=state.get(PROBLEM_CODE) if status >= 400 else None,
        request_id=request_id[:100] if isinstance(request_id, str) else None,
        **parameters,
    )


def unavailable(scope: Scope) -> Response:
    """The answer to a request whose audit record could not be written."""
    detail = "the request could not be audited, so it is not answered; try again"
    if is_vault_path(scope["path"]):
        return errors_response(503, [detail])
    return problem_response(
        503, "audit_unavailable", "The audit is unavailable", detail, instance=scope["path"][:MAX_PATH]
    )


def _noting_the_code(handler: Handler) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        problem = await handler(request, error)
        try:
            code = json.loads(bytes(problem.body)).get("code")
        except ValueError:
            code = None
        setattr(request.state, PROBLEM_CODE, code if isinstance(code, str) else None)
        return problem

    return handle


def install_request_audit(app: FastAPI) -> None:
    """Record every request `app` answers; call before `install_vault_errors`, so that the
    problem's code is noted before `/v1` answers take Vault's form."""
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _noting_the_code(handler)  # type: ignore[arg-type]
    # Inside the telemetry middleware (the last added is the outermost): the request's span and
    # its X-Request-Id cover the record's write and a 503 in place of the answer.
    app.user_middleware.append(Middleware(RequestAudit))
