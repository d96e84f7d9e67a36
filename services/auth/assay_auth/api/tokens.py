"""Assay's JWTs: the token exchange (`POST /api/v1/auth/token`), the signing keys
(`/api/v1/auth/signing-keys`, administrators) and the public keys (`GET /.well-known/jwks.json`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from assay_auth.api.deps import Admin, Domain, client_address
from assay_auth.domain.jwt_tokens import JWT_TOKEN_TYPE
from assay_auth.store.signing_keys import SigningKeyRow
from assay_common.internal_auth import Principal
from assay_common.problems import problems
from assay_common.service import caller

router = APIRouter(prefix="/api/v1/auth", tags=["tokens"])
well_known = APIRouter(tags=["tokens"])

#: Verifiers may keep the JWKS this long; a new key is published well before it signs anything
#: they must know (they fetch again on an unknown `kid`).
JWKS_MAX_AGE_SECONDS = 60


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[str] | None = Field(
        default=None,
        max_length=64,
        description="The scopes the token carries, all held by the credential; none: all it holds",
    )
    expires_in: int | None = Field(
        default=None, ge=1, description="Seconds the token lives; at most the configured token life"
    )


class TokenResponse(BaseModel):
    """The answer of a token exchange, shaped after RFC 8693 §2.2."""

    access_token: str = Field(description="The JWT; send it as `Authorization: Bearer <token>`")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires")
    issued_token_type: Literal["urn:ietf:params:oauth:token-type:jwt"] = JWT_TOKEN_TYPE
    scope: str = Field(description="The token's scopes, space-separated")


class SigningKeyOut(BaseModel):
    kid: str
    algorithm: str
    state: Literal["active", "retired"]
    created_at: datetime
    retired_at: datetime | None
    drop_after: datetime | None = Field(description="When a retired key leaves the JWKS")

    @classmethod
    def of(cls, row: SigningKeyRow) -> SigningKeyOut:
        return cls(
            kid=row.kid,
            algorithm=row.algorithm,
            state="active" if row.active else "retired",
            created_at=row.created_at,
            retired_at=row.retired_at,
            drop_after=row.drop_after,
        )


class SigningKeyList(BaseModel):
    items: list[SigningKeyOut]


class Jwk(BaseModel):
    """An Ed25519 public key (RFC 8037)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class Jwks(BaseModel):
    keys: list[Jwk]


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=problems(401, 403, 422, 503),
    summary="Exchange your session or API key for a short-lived JWT",
)
async def exchange(
    request: Request,
    response: Response,
    domain: Domain,
    body: TokenRequest | None = None,
    principal: Principal = Depends(caller),
) -> TokenResponse:
    asked = body or TokenRequest()
    issued = await domain.tokens.exchange(
        principal, client_address(request), scopes=asked.scopes, expires_in=asked.expires_in
    )
    # A token must not be kept by any cache on the way (RFC 6749 §5.1).
    response.headers["Cache-Control"] = "no-store"
    return TokenResponse(
        access_token=issued.token, expires_in=issued.expires_in, scope=" ".join(issued.scopes)
    )


@router.get(
    "/signing-keys",
    response_model=SigningKeyList,
    responses=problems(401, 403),
    summary="The JWT signing keys: the active one and those retired but still published",
)
async def signing_keys(actor: Admin, domain: Domain) -> SigningKeyList:
    return SigningKeyList(items=[SigningKeyOut.of(row) for row in await domain.signing_keys.listed()])


@router.post(
    "/signing-keys/rotate",
    status_code=201,
    response_model=SigningKeyOut,
    responses=problems(401, 403, 409, 503),
    summary="Make a new signing key active now; the old one stays published until its tokens expire",
)
async def rotate(actor: Admin, domain: Domain) -> SigningKeyOut:
    return SigningKeyOut.of(await domain.signing_keys.rotate_now(actor))


@well_known.get(
    "/.well-known/jwks.json",
    response_model=Jwks,
    summary="The public keys that verify Assay's JWTs (RFC 7517)",
)
async def jwks(response: Response, domain: Domain) -> Jwks:
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return Jwks.model_validate({"keys": await domain.signing_keys.published()})
