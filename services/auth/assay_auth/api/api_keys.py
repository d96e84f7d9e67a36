"""API keys: your own at `/api/v1/auth/api-keys`; any user's, for administrators, at
`/api/v1/auth/users/{user_id}/api-keys`. A key's secret is shown once, in the creation answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from assay_auth.api.deps import Admin, CallingKey, Domain, User
from assay_auth.domain.context import Actor
from assay_auth.domain.identity import Identity
from assay_auth.store.rows import ApiKeyRow
from assay_common.problems import problems

router = APIRouter(prefix="/api/v1/auth", tags=["api-keys"])

KeyId = Annotated[uuid.UUID, Path(description="The API key's id")]
UserId = Annotated[uuid.UUID, Path(description="The user's id")]
Cursor = Annotated[uuid.UUID | None, Query(description="The `next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=500)]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["deploy bot"])
    scopes: list[str] = Field(default_factory=list, max_length=64, examples=[["namespace:payments#operate"]])
    expires_at: datetime | None = Field(default=None, description="When the key stops working; none: never")


class ApiKeyOut(BaseModel):
    """An API key as lists show one: `prefix` tells keys apart; the secret is never shown again."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Recorded at most once a minute")

    @classmethod
    def of(cls, row: ApiKeyRow) -> ApiKeyOut:
        return cls(
            id=row.id,
            user_id=row.user_id,
            name=row.name,
            prefix=row.prefix,
            scopes=row.scopes,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, store it now")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None


async def _create(domain: Identity, actor: Actor, owner: uuid.UUID, body: ApiKeyIn) -> ApiKeyCreated:
    created = await domain.api_keys.create(
        actor, owner, name=body.name, scopes=body.scopes, expires_at=body.expires_at
    )
    return ApiKeyCreated(**ApiKeyOut.of(created.row).model_dump(), key=created.key)


async def _page(domain: Identity, owner: uuid.UUID, cursor: uuid.UUID | None, limit: int) -> ApiKeyPage:
    rows = await domain.api_keys.list(owner, before=cursor, limit=limit + 1)
    page = rows[:limit]
    return ApiKeyPage(
        items=[ApiKeyOut.of(r) for r in page], next_cursor=str(page[-1].id) if len(rows) > limit else None
    )


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problems(401, 403, 422),
    summary="Create an API key of yours",
)
async def create_my_key(body: ApiKeyIn, signed_in: User, domain: Domain) -> ApiKeyCreated:
    return await _create(domain, signed_in.actor, signed_in.user.id, body)


@router.get("/api-keys", response_model=ApiKeyPage, responses=problems(401, 403), summary="Your API keys")
async def my_keys(signed_in: User, domain: Domain, cursor: Cursor = None, limit: Limit = 50) -> ApiKeyPage:
    return await _page(domain, signed_in.user.id, cursor, limit)


@router.delete(
    "/api-keys/self",
    status_code=204,
    responses=problems(401, 403),
    summary="Revoke the API key this request is made with (as a CLI does when it signs out)",
)
async def revoke_calling_key(caller_key: CallingKey, domain: Domain) -> None:
    await domain.api_keys.revoke(caller_key.actor, caller_key.key_id, owner=caller_key.user.id)


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    responses=problems(401, 403, 404),
    summary="Revoke an API key of yours",
)
async def revoke_my_key(key_id: KeyId, signed_in: User, domain: Domain) -> None:
    await domain.api_keys.revoke(signed_in.actor, key_id, owner=signed_in.user.id)


@router.post(
    "/users/{user_id}/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problems(401, 403, 404, 422),
    summary="Create an API key for a user",
)
async def create_user_key(user_id: UserId, body: ApiKeyIn, actor: Admin, domain: Domain) -> ApiKeyCreated:
    return await _create(domain, actor, user_id, body)


@router.get(
    "/users/{user_id}/api-keys",
    response_model=ApiKeyPage,
    responses=problems(401, 403, 404),
    summary="A user's API keys",
)
async def user_keys(
    user_id: UserId, actor: Admin, domain: Domain, cursor: Cursor = None, limit: Limit = 50
) -> ApiKeyPage:
    await domain.users.get(user_id)
    return await _page(domain, user_id, cursor, limit)


@router.delete(
    "/users/{user_id}/api-keys/{key_id}",
    status_code=204,
    responses=problems(401, 403, 404),
    summary="Revoke an API key of a user",
)
async def revoke_user_key(user_id: UserId, key_id: KeyId, actor: Admin, domain: Domain) -> None:
    await domain.api_keys.revoke(actor, key_id, owner=user_id)
