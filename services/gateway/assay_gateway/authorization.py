"""What a caller may reach: the route → permission table (`assay_common.route_permissions`),
enforced for every request the gateway answers or forwards (docs/gateway.md).

A request's row says what it needs:

- no row: a page of the console is public; anything else is not a route (404);
- `public`: anyone (sign-in routes do not even look at credentials);
- `signed_in`: any authenticated caller (anonymous: 401);
- `service`: Assay's own services only, never routed from outside (404);
- a permission whose object the gateway can name (fixed, or from the path, the query or the JSON
  body): the caller must hold it, checked with `PermissionChecks` (cached; the client's
  `Assay-Consistency-Token`, the zookie of its last write, makes the check see that write);
- a permission whose object only the service knows (the namespace of a worker): any
  authenticated caller here; the service checks it.

A bearer biscuit is verified only where the gateway itself decides a permission (`biscuits`); on
public routes it stands for no one, elsewhere it is refused (403 `biscuit_not_accepted`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from fastapi import Request
from starlette.requests import ClientDisconnect

from assay_common.errors import AssayError, Forbidden, Unauthorized
from assay_common.events.access_audit import attach_principal
from assay_common.internal_auth import Principal
from assay_common.permission_checks import (
    CONSISTENCY_TOKEN_HEADER,
    Need,
    PermissionChecks,
    PermissionDenied,
    subject_of,
)
from assay_common.route_permissions import RoutePermission
from assay_gateway.authentication import Authenticator
from assay_gateway.biscuits import BiscuitBearer, BiscuitVerifier, Facts
from assay_gateway.public_routes import is_sign_in
from assay_gateway.routing import NoSuchRoute, route_for


class BodyTooLarge(AssayError):
    status = 413
    code = "body_too_large"
    title = "The request body is too large"


class ClientClosedRequest(AssayError):
    """The client left before its request was read; nobody is left to answer."""

    status = 499
    code = "client_closed_request"
    title = "The client closed the request"


class BiscuitNotAccepted(Forbidden):
    code = "biscuit_not_accepted"
    title = "A biscuit is not accepted on this route"


@dataclass(frozen=True)
class Admission:
    """A request the gateway lets through: on whose behalf, and its body when it had to be read."""

    principal: Principal
    #: The whole body, when the row names its object in it; otherwise it streams on untouched.
    body: bytes | None = None


class Gatekeeper:
    def __init__(
        self,
        authenticator: Authenticator,
        checks: PermissionChecks,
        biscuits: BiscuitVerifier,
        max_body_bytes: int,
    ) -> None:
        self.authenticator = authenticator
        self.checks = checks
        self.biscuits = biscuits
        self.max_body_bytes = max_body_bytes

    async def admit(self, request: Request) -> Admission:
        """Let `request` through, or raise the problem that refuses it."""
        method, path = request.method, request.scope["path"]
        found = route_for(method, path)
        if found is None:
            return Admission(await self._anyone(request))
        row, path_params = found
        if row.access == "service":
            raise NoSuchRoute(f"there is no route {method} {path}")
        if row.access == "public":
            return Admission(Principal.anonymous() if is_sign_in(row) else await self._anyone(request))
        caller = await self._identify(request)
        if isinstance(caller, Principal) and caller.kind == "anonymous":
            raise Unauthorized("sign in, or send an API key or token: `Authorization: Bearer <credential>`")
        if row.access == "signed_in" or row.source == "service":
            if isinstance(caller, BiscuitBearer):
                raise BiscuitNotAccepted(
                    "a biscuit is accepted only on routes whose permission the gateway checks; "
                    "use a session, an API key or a JWT here"
                )
            return Admission(caller)
        body = await read_body(request, self.max_body_bytes) if row.source == "body" else None
        needs = needs_of(row, path_params, request.query_params, body)
        zookie = request.headers.get(CONSISTENCY_TOKEN_HEADER) or None
        if isinstance(caller, BiscuitBearer):
            # A biscuit is verified for the row's own permission, never for a folder's.
            return Admission(await self._holder(request, caller, needs[0], zookie), body)
        await self.checks.require_any(caller, needs, at_least=zookie)
        return Admission(caller, body)

    async def _identify(self, request: Request, *, open_to_anyone: bool = False) -> Principal | BiscuitBearer:
        caller = await self.authenticator.identify(request, open_to_anyone=open_to_anyone)
        if isinstance(caller, Principal):
            attach_principal(request, caller)  # named in the audit record of a refusal
        return caller

    async def _anyone(self, request: Request) -> Principal:
        """The caller of a public route: credentials sent along must hold, but a biscuit is
        verified only for a request it is used for, so here it stands for no one."""
        caller = await self._identify(request, open_to_anyone=True)
        return Principal.anonymous() if isinstance(caller, BiscuitBearer) else caller

    async def _holder(
        self, request: Request, bearer: BiscuitBearer, need: Need, zookie: str | None
    ) -> Principal:
        """The biscuit's subject, when the token allows this request and the subject holds `need`
        (a biscuit's restrictions are its checks, so `require`'s scope test does not apply). The
        principal's one scope is `need`: what the token was verified for, so that the service's
        own check of the row holds for that and nothing else."""
        verdict = await self.biscuits.verify(bearer.token, Facts.of(need))
        holder = replace(verdict.holder(), scopes=(str(need),))
        attach_principal(request, holder)
        subject = subject_of(holder)
        if subject is None or not (await self.checks.allowed(subject, [need], zookie))[0]:
            raise PermissionDenied(f"this needs {need}", needed=str(need))
        return holder


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body, at most `limit` bytes (413 beyond)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"this route takes a body of at most {limit} bytes", limit=limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"this route takes a body of at most {limit} bytes", limit=limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientClosedRequest("the client left before sending its whole request") from None
    return b"".join(chunks)


def needs_of(
    row: RoutePermission, path_params: Mapping[str, str], query: Mapping[str, str], body: bytes | None
) -> list[Need]:
    """The permission a request needs, then the alternatives its row allows (any one will do).
    The body is read as the services read it (stdlib JSON, so both see the same object)."""
    return row.needs(path_params, query, json_object(body) if body is not None else {})


def json_object(body: bytes) -> Mapping[str, object]:
    """The body's top-level JSON object; empty when it is not one."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


async def admit(request: Request) -> Admission:
    """The request let through by the gateway's gatekeeper (a FastAPI dependency of its own routes)."""
    gatekeeper: Gatekeeper = request.app.state.gateway.gatekeeper
    return await gatekeeper.admit(request)
