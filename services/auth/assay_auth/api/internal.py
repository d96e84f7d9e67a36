"""`/internal/v1/…`: what the gateway asks to authenticate a request. Not routed by the gateway,
so not public; callable only with an internal token of a `service` principal."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from assay_auth.api.deps import Domain, identity
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
