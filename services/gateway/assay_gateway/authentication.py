"""Who is calling: the one seam where request authentication plugs in (ARCHITECTURE §5).

In order: the `assay_session` cookie (a browser; its state-changing requests also need the
`X-CSRF-Token` header to match the `assay_csrf` cookie and the session's CSRF token), then an
`Authorization: Bearer assay_…` API key, then any other `Authorization: Bearer` JWT, verified here
against its issuer's keys (`bearer_tokens`), then a bearer biscuit, which stands for someone only
once it is verified for a request (`authorization`, `biscuits`). On the Vault-compatible paths
(`/v1/...`) `X-Vault-Token` is taken as the bearer credential when `Authorization` is absent, so
Vault clients send an Assay API key or JWT as their token. The auth service says whom a
session or an API key belongs to; its answers (also "no one") are kept for `auth_cache_seconds`,
so a revoked session or key stops working at the gateway within that window. A request without
credentials is anonymous; a request with credentials that do not hold is refused (401), never
downgraded to anonymous. What each caller may reach is `authorization`'s to say.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from assay_common.errors import BadGateway, Forbidden, Unauthorized
from assay_common.events.bus import EventBus
from assay_common.events.schemas.auth import CredentialsRevoked
from assay_common.internal_auth import InternalTokenMinter, Principal
from assay_common.vault_errors import is_vault_path
from assay_gateway.auth_events import follow
from assay_gateway.bearer_tokens import JwtVerifier, looks_like_jwt
from assay_gateway.biscuits import BiscuitBearer, looks_like_biscuit
from assay_gateway.upstreams import GATEWAY, Upstreams

SESSION_COOKIE = "assay_session"
CSRF_COOKIE = "assay_csrf"
CSRF_HEADER = "x-csrf-token"
API_KEY_PREFIX = "assay_"
#: Methods that change nothing, so a cross-site request cannot abuse them (RFC 9110 §9.2.1).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGOUT_PATH = "/api/v1/auth/logout"
TOKEN_EXCHANGE_PATH = "/api/v1/auth/token"
#: Vault clients' credential header, accepted on the Vault-compatible paths.
VAULT_TOKEN_HEADER = "x-vault-token"
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

    async def identify(self, request: Request, *, open_to_anyone: bool = False) -> Principal | BiscuitBearer:
        """The caller behind the request's credentials (anonymous without any); a bearer biscuit
        as it came, to be verified for the request it is used for. Where anyone may go
        (`open_to_anyone`: pages, public routes), a session that has ended stands for no one, so
        that a browser with a stale cookie still reaches the sign-in page."""
        path = request.scope["path"]
        if secret := request.cookies.get(SESSION_COOKIE):
            session = await self._resolve("sessions", {"secret": secret})
            if session is None:
                if open_to_anyone or path == LOGOUT_PATH:
                    return Principal.anonymous()  # on logout: nothing to end; the answer clears the cookies
                raise Unauthorized("the session has ended; sign in again")
            if request.method not in SAFE_METHODS:
                check_csrf(request, session)
            return session.principal
        scheme, _, credential = bearer_of(request)
        if scheme.lower() == "bearer" and credential.strip():
            credential = credential.strip()
            if credential.startswith(API_KEY_PREFIX):
                key = await self._resolve("api-keys", {"key": credential})
                if key is None:
                    raise Unauthorized("the API key is unknown, expired or revoked")
                return key.principal
            if looks_like_jwt(credential):
                if path == TOKEN_EXCHANGE_PATH:
                    # A JWT exchanged for a fresh one would never have to end.
                    raise Unauthorized("exchange a session or an API key for a token, not a token")
                return await self.jwts.verify(credential)
            if looks_like_biscuit(credential):
                return BiscuitBearer(credential)
            raise Unauthorized("the bearer token is neither an Assay API key, a JWT nor a biscuit")
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
        """Follow `credentials_revoked` events until cancelled."""
        await follow(bus, CredentialsRevoked, self.forget)

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
        status, content = await self.upstreams.post_json(
            "auth",
            f"/internal/v1/{kind}/validate",
            body,
            token=self.minter.mint(GATEWAY, audience="auth"),
            purpose="check the credentials",
        )
        if status in (401, 422):
            return None  # not a credential of anyone's (422: not even shaped like one)
        if status != 200:
            raise BadGateway(f"the auth service answered {status} when asked to check the credentials")
        return resolved(kind, json.loads(content))


def bearer_of(request: Request) -> tuple[str, str, str]:
    """`Authorization` as (scheme, separator, credential); on the Vault-compatible paths (`/v1`)
    without it, `X-Vault-Token: <API key or JWT>` stands for `Authorization: Bearer <it>`, as
    Vault clients send their token."""
    authorization = request.headers.get("authorization", "")
    if not authorization and is_vault_path(request.scope["path"]):
        token = request.headers.get(VAULT_TOKEN_HEADER, "").strip()
        if token:
            return "Bearer", " ", token
    return authorization.partition(" ")


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
