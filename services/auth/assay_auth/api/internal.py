"""`/internal/v1/…`: what the gateway asks to authenticate a request. Not routed by the gateway,
so not public; callable only with an internal token of a `service` principal."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from assay_auth.api.deps import Domain, identity
from assay_auth.domain.context import Actor
from assay_auth.domain.identity import Identity
from assay_common.internal_auth import Principal
from assay_common.problems import problems
from assay_common.service import caller

router = APIRouter(prefix="/internal/v1", tags=["internal"])


async def service_only(principal: Principal = Depends(caller), domain: Identity = Depends(identity)) -> None:
    domain.access.service(principal)


class SessionSecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=1, max_length=200, description="The value of the assay_session cookie")


class SessionPrincipal(BaseModel):
    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    is_admin: bool
    csrf_token_hash: str = Field(
        description="SHA-256 (hex) of the session's CSRF token: a mutation's X-CSRF-Token must hash to it "
        "(and equal the assay_csrf cookie)"
    )
    expires_at: datetime
    idle_expires_at: datetime


class ApiKeySecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200)


class ApiKeyPrincipal(BaseModel):
    user_id: uuid.UUID
    api_key_id: uuid.UUID
    email: str
    is_admin: bool
    scopes: list[str]
    expires_at: datetime | None


@router.post(
    "/sessions/validate",
    response_model=SessionPrincipal,
    responses=problems(401, 403, 422),
    dependencies=[Depends(service_only)],
    summary="The principal of a session cookie; 401 when the session is unknown or has ended",
)
async def validate_session(body: SessionSecretIn, domain: Domain) -> SessionPrincipal:
    valid = await domain.sessions.validate(body.secret)
    return SessionPrincipal(
        user_id=valid.user.id,
        session_id=valid.session.id,
        email=valid.user.email,
        is_admin=valid.user.is_admin,
        csrf_token_hash=valid.session.csrf_hash,
        expires_at=valid.session.expires_at,
        idle_expires_at=valid.idle_expires_at,
    )


@router.post(
    "/api-keys/validate",
    response_model=ApiKeyPrincipal,
    responses=problems(401, 403, 422),
    dependencies=[Depends(service_only)],
    summary="The principal of an API key; 401 when it is unknown, expired or revoked",
)
async def validate_api_key(body: ApiKeySecretIn, domain: Domain) -> ApiKeyPrincipal:
    valid = await domain.api_keys.validate(body.key)
    return ApiKeyPrincipal(
        user_id=valid.user.id,
        api_key_id=valid.row.id,
        email=valid.user.email,
        is_admin=valid.user.is_admin,
        scopes=valid.row.scopes,
        expires_at=valid.row.expires_at,
    )


class BootstrapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, examples=["admin@localhost"])


class BootstrapAdminOut(BaseModel):
    """Shown this once: the key and the token are stored only as digests."""

    user_id: uuid.UUID
    email: str
    api_key: str = Field(description="An API key with the `admin` scope")
    password_token: str = Field(
        description="Sets the administrator's password: POST /api/v1/auth/password/reset"
    )
    password_token_expires_at: datetime


@router.post(
    "/bootstrap",
    status_code=201,
    response_model=BootstrapAdminOut,
    responses=problems(403, 409, 422),
    dependencies=[Depends(service_only)],
    summary="Create the first administrator of a platform that has no user yet",
)
async def bootstrap_admin(
    body: BootstrapIn, domain: Domain, principal: Principal = Depends(caller)
) -> BootstrapAdminOut:
    made = await domain.bootstrap.admin(Actor(id=principal.id, kind="service"), body.email)
    return BootstrapAdminOut(
        user_id=made.user.id,
        email=made.user.email,
        api_key=made.api_key,
        password_token=made.password_token,
        password_token_expires_at=made.password_token_expires_at,
    )
