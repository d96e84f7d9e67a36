"""Who is calling: the one seam where request authentication plugs in (ARCHITECTURE §5).

In order: the `assay_session` cookie (a browser; its state-changing requests also need the
`X-CSRF-Token` header to match the `assay_csrf` cookie and the session's CSRF token), then an
`Authorization: Bearer assay_…` API key, then any other `Authorization: Bearer` JWT, verified here
against its issuer's keys (`bearer_tokens`). The auth service says whom a session or an API key
belongs to; its answers (also "no one") are kept for `auth_cache_seconds`, so a revoked session
or key stops working at the gateway within that window. A request without credentials is
anonymous; a request with credentials that do not hold is refused (401), never downgraded to
anonymous; an anonymous caller reaches only the routes of `public_routes`, and gets 401 everywhere else.

Every route of the gateway but health and version (the proxy, the event stream, the OpenAPI
document) depends on `authenticate`; the principal it returns is what the internal token
vouches for.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

import aiohttp
from fastapi import Depends, Request
from nats.errors import Error as NatsError
from pydantic import ValidationError

from assay_common.errors import BadGateway, Forbidden, Unauthorized
from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent
from assay_common.events.schemas.auth import CredentialsRevoked
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal
from assay_gateway.bearer_tokens import JwtVerifier, looks_like_jwt
from assay_gateway.public_routes import is_public, is_sign_in
from assay_gateway.upstreams import Upstreams

log = logging.getLogger("assay.gateway.authentication")

SESSION_COOKIE = "assay_session"
CSRF_COOKIE = "assay_csrf"
CSRF_HEADER = "x-csrf-token"
API_KEY_PREFIX = "assay_"
#: Methods that change nothing, so a cross-site request cannot abuse them (RFC 9110 §9.2.1).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGOUT_PATH = "/api/v1/auth/logout"
TOKEN_EXCHANGE_PATH = "/api/v1/auth/token"
#: How the gateway itself appears to the auth service when it asks about a credential.
GATEWAY = Principal(id="gateway", kind="service")
#: The most credentials remembered at once; beyond it the oldest answers are dropped.
MAX_CACHED = 10_000


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "Missing or wrong CSRF token"


@dataclass(frozen=True)
class Resolved:
    """What a credential stands for."""

    principal: Principal
    #: SHA-256 (hex) of the session's CSRF token; None for an API key.
    csrf_token_hash: str | None = None


class Authenticator:
    def __init__(
        self, upstreams: Upstreams, minter: InternalTokenMinter, cache_seconds: float, jwts: JwtVerifier
    ) -> None:
        self.upstreams = upstreams
        self.minter = minter
        self.cache_seconds = cache_seconds
        self.jwts = jwts
        self._known: dict[str, tuple[float, Resolved | None]] = {}

    async def principal(self, request: Request) -> Principal:
        path = request.scope["path"]
        if is_sign_in(path):
            return Principal.anonymous()
        if secret := request.cookies.get(SESSION_COOKIE):
            session = await self._resolve("sessions", {"secret": secret})
            if session is None:
                if path == LOGOUT_PATH:
                    return Principal.anonymous()  # nothing to end; the answer clears the cookies
                raise Unauthorized("the session has ended; sign in again")
            if request.method not in SAFE_METHODS:
                check_csrf(request, session)
            return session.principal
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            credential = credential.strip()
            if not credential.startswith(API_KEY_PREFIX):
                if not looks_like_jwt(credential):
                    raise Unauthorized("the bearer token is neither an Assay API key nor a JWT")
                if path == TOKEN_EXCHANGE_PATH:
                    # A JWT exchanged for a fresh one would never have to end.
                    raise Unauthorized("exchange a session or an API key for a token, not a token")
                return await self.jwts.verify(credential)
            key = await self._resolve("api-keys", {"key": credential})
            if key is None:
                raise Unauthorized("the API key is unknown, expired or revoked")
            return key.principal
        if scheme:
            raise Unauthorized("use a session cookie or an `Authorization: Bearer assay_…` API key")
        return Principal.anonymous()

    def forget(self, revoked: CredentialsRevoked) -> int:
        """Drop what is remembered of credentials that have just been revoked, so they stop
        working at once rather than when their cache entry ends; the number dropped."""
        sessions, keys = set(revoked.session_ids), set(revoked.api_key_ids)

        def ended(principal: Principal) -> bool:
            return (
                (principal.session_id is not None and principal.session_id in sessions)
                or (principal.api_key_id is not None and principal.api_key_id in keys)
                or (revoked.all_of_user and principal.id == revoked.user_id)
            )

        stale = [key for key, (_, answer) in self._known.items() if answer and ended(answer.principal)]
        for key in stale:
            del self._known[key]
        return len(stale)

    async def forget_on(self, bus: EventBus) -> None:
        """Follow `credentials_revoked` events (every gateway replica sees each one: a plain
        subscription, no shared consumer) until cancelled. A missed one only means the cache
        window applies."""
        subject = bus.subjects.event("auth", None, CredentialsRevoked.event_name)
        subscription = await bus.nc.subscribe(subject)
        try:
            async for message in subscription.messages:
                try:
                    event = CloudEvent.from_json(message.data)
                    self.forget(CredentialsRevoked.model_validate(event.data))
                except ValidationError:
                    log.warning("ignored a credentials_revoked message that is not one")
        finally:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()

    async def _resolve(self, kind: str, body: dict[str, str]) -> Resolved | None:
        """The auth service's answer for a credential, remembered for a while (only a hash of
        the credential is kept)."""
        (secret,) = body.values()
        key = f"{kind}:{hashlib.sha256(secret.encode()).hexdigest()}"
        now = time.monotonic()
        known = self._known.get(key)
        if known is not None and known[0] > now:
            return known[1]
        answer = await self._ask(kind, body)
        if len(self._known) >= MAX_CACHED:
            self._known.clear()
        self._known[key] = (now + self.cache_seconds, answer)
        return answer

    async def _ask(self, kind: str, body: dict[str, str]) -> Resolved | None:
        headers = {
            INTERNAL_TOKEN_HEADER: self.minter.mint(GATEWAY, audience="auth"),
            # Named here: the shared session adds no Content-Type of its own (see upstreams).
            "content-type": "application/json",
        }
        url = self.upstreams.url("auth", f"/internal/v1/{kind}/validate")
        try:
            async with self.upstreams.client.post(url, data=json.dumps(body), headers=headers) as response:
                status, content = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError):
            raise BadGateway("the auth service is not reachable to check the credentials") from None
        if status in (401, 422):
            return None  # not a credential of anyone's (422: not even shaped like one)
        if status != 200:
            raise BadGateway(f"the auth service answered {status} when asked to check the credentials")
        return resolved(kind, json.loads(content))


def resolved(kind: str, answer: dict[str, Any]) -> Resolved:
    """The principal the auth service's answer describes."""
    admin = ("admin",) if answer["is_admin"] else ()
    if kind == "sessions":
        principal = Principal(
            id=answer["user_id"], kind="user", session_id=answer["session_id"], scopes=admin
        )
        return Resolved(principal, csrf_token_hash=answer["csrf_token_hash"])
    principal = Principal(
        id=answer["user_id"], kind="api_key", scopes=tuple(answer["scopes"]), api_key_id=answer["api_key_id"]
    )
    return Resolved(principal)


def check_csrf(request: Request, session: Resolved) -> None:
    """Double submit: the header must repeat the cookie, and both must be the session's token."""
    header = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    expected = session.csrf_token_hash or ""
    if not (
        header
        and hmac.compare_digest(header, cookie)
        and hmac.compare_digest(hashlib.sha256(header.encode()).hexdigest(), expected)
    ):
        raise CsrfFailed(f"a signed-in browser's {request.method} needs the {CSRF_HEADER} header")


async def authenticate(request: Request) -> Principal:
    """The principal behind `request` (FastAPI dependency); 401 for an anonymous caller of a
    route that is not public."""
    authenticator: Authenticator = request.app.state.gateway.authenticator
    principal = await authenticator.principal(request)
    if principal.kind == "anonymous" and not is_public(request.scope["path"]):
        raise Unauthorized("sign in, or send an API key or token: `Authorization: Bearer <credential>`")
    return principal


Caller = Annotated[Principal, Depends(authenticate)]
