"""The token exchange: a user's session or API key for a short-lived JWT (after RFC 8693).

The JWT is a bearer token signed by the active signing key (EdDSA), valid until its `exp` like any
JWT: revoking the session or the key it came from does not recall it, which is why it lives
`token_ttl_seconds` (15 minutes) at most. It never carries more scopes than the credential holds,
never outlives an API key that expires, nor the session's absolute end.

A JWT is not exchanged for another, which would let it live for ever: an API key's principal must
name the key it presented (a JWT's does not), and the gateway refuses JWTs on the exchange route.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from joserfc import jwt

from assay_auth.domain.access import Access
from assay_auth.domain.context import AuthContext
from assay_auth.domain.errors import InvalidApiKey, NotSignedIn
from assay_auth.domain.signing_keys import ALGORITHM, SigningKeys
from assay_auth.store import api_keys as api_key_store
from assay_auth.store import sessions as session_store
from assay_common.db import uuid7
from assay_common.errors import Forbidden
from assay_common.events.schemas.auth import TokenIssued
from assay_common.internal_auth import Principal
from assay_common.permission_checks import ADMIN_SCOPE

#: The `issued_token_type` of the exchange's answer (RFC 8693 §3).
JWT_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:jwt"


class ScopeNotHeld(Forbidden):
    code = "scope_not_held"
    title = "A token cannot carry a scope its credential does not hold"


class NotExchangeable(Forbidden):
    code = "not_exchangeable"
    title = "Only a user's session or API key can be exchanged for a token"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    kind: Literal["user", "api_key"]
    scopes: list[str]
    issued_at: datetime
    expires_at: datetime

    @property
    def expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())


def issuer_of(public_url: str) -> str:
    """The `iss` of Assay's tokens: the platform's public URL."""
    return public_url.rstrip("/")


class TokenExchange:
    def __init__(self, ctx: AuthContext, access: Access, keys: SigningKeys) -> None:
        self.ctx = ctx
        self.access = access
        self.keys = keys

    async def exchange(
        self,
        principal: Principal,
        address: str | None,
        *,
        scopes: list[str] | None = None,
        expires_in: int | None = None,
    ) -> IssuedToken:
        """A JWT for the caller's credential; `scopes` (a subset of the credential's) and
        `expires_in` (at most `token_ttl_seconds`) narrow it."""
        if principal.kind == "anonymous":
            raise NotSignedIn("sign in, or present an API key, to get a token")
        if principal.kind not in ("user", "api_key"):
            raise NotExchangeable(f"a {principal.kind} principal cannot be exchanged for a token")
        kind: Literal["user", "api_key"] = "user" if principal.kind == "user" else "api_key"
        signed_in = await self.access.anyone_signed_in(principal, address)
        now = self.ctx.now()
        ttl = self.ctx.settings.token_ttl_seconds
        ends = now + timedelta(seconds=min(expires_in or ttl, ttl))
        if kind == "api_key":
            held, key_end = await self._api_key(principal, signed_in.user.id, now)
            ends = min(ends, key_end) if key_end is not None else ends
        else:
            held = [ADMIN_SCOPE] if signed_in.user.is_admin else []
            if signed_in.session_id is not None:
                async with self.ctx.db.read() as conn:
                    session = await session_store.get(conn, signed_in.session_id)
                if session is None:
                    raise NotSignedIn("the session has ended; sign in again")
                ends = min(ends, session.expires_at)
        granted = held if scopes is None else _narrowed(held, scopes)
        issued_at, expires_at = math.floor(now.timestamp()), math.floor(ends.timestamp())
        if expires_at <= issued_at:
            raise InvalidApiKey("the API key expires too soon to issue a token")
        jti = str(uuid7())
        claims: dict[str, Any] = {
            "iss": issuer_of(self.ctx.settings.public_url),
            "sub": str(signed_in.user.id),
            "aud": self.ctx.settings.token_audience,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires_at,
            "jti": jti,
            "assay_kind": kind,
            "scopes": granted,
        }
        if kind == "user" and signed_in.session_id is not None:
            claims["sid"] = str(signed_in.session_id)
        if signed_in.user.is_admin and ADMIN_SCOPE in granted:
            claims["admin"] = True
        active = await self.keys.active()
        token = jwt.encode({"alg": ALGORITHM, "kid": active.kid}, claims, active.key, algorithms=[ALGORITHM])
        issued = IssuedToken(
            token=token,
            jti=jti,
            kind=kind,
            scopes=granted,
            issued_at=datetime.fromtimestamp(issued_at, now.tzinfo),
            expires_at=datetime.fromtimestamp(expires_at, now.tzinfo),
        )
        async with self.ctx.db.transaction() as tx:
            await self.ctx.audit(
                tx,
                TokenIssued,
                signed_in.actor,
                target_type="token",
                target_id=jti,
                jti=jti,
                kid=active.kid,
                subject_kind=kind,
                scopes=granted,
                expires_at=issued.expires_at,
            )
        return issued

    async def _api_key(
        self, principal: Principal, user_id: uuid.UUID, now: datetime
    ) -> tuple[list[str], datetime | None]:
        """The scopes and the end of the API key the caller presented, checked again now."""
        if principal.api_key_id is None:
            raise NotExchangeable("exchange the API key itself, not a token made from it")
        try:
            key_id = uuid.UUID(principal.api_key_id)
        except ValueError:
            raise InvalidApiKey("the API key is unknown, expired or revoked") from None
        async with self.ctx.db.read() as conn:
            key = await api_key_store.get(conn, key_id)
        if key is None or key.user_id != user_id or (key.expires_at is not None and key.expires_at <= now):
            raise InvalidApiKey("the API key is unknown, expired or revoked")
        return list(key.scopes), key.expires_at


def _narrowed(held: list[str], asked: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(asked))
    missing = [scope for scope in wanted if scope not in held]
    if missing:
        raise ScopeNotHeld(f"the credential does not hold the scope {missing[0]!r}")
    return wanted
