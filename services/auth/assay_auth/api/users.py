"""`/api/v1/auth/users`: users, for administrators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay_auth.api.deps import Admin, Domain
from assay_auth.domain.users import UserChanges
from assay_auth.store.rows import UserRow
from assay_common.problems import problems

router = APIRouter(prefix="/api/v1/auth/users", tags=["users"])

UserId = Annotated[uuid.UUID, Path(description="The user's id")]


class UserOut(BaseModel):
    """A user as every route shows one: never with a password or its hash."""

    id: uuid.UUID
    email: str
    email_verified: bool
    display_name: str
    metadata: dict[str, Any]
    is_admin: bool
    disabled: bool
    disabled_at: datetime | None
    has_password: bool
    password_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: UserRow) -> UserOut:
        return cls(
            id=row.id,
            email=row.email,
            email_verified=row.email_verified,
            display_name=row.display_name,
            metadata=row.metadata,
            is_admin=row.is_admin,
            disabled=row.disabled,
            disabled_at=row.disabled_at,
            has_password=row.password_hash is not None,
            password_changed_at=row.password_changed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, examples=["ann@example.com"])
    display_name: str = Field(default="", max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form JSON, up to 16 KiB")
    email_verified: bool = False
    is_admin: bool = False
    password: str | None = Field(
        default=None, max_length=4096, description="Optional; without one the user signs in once one is set"
    )


class UserPatch(BaseModel):
    """Only the fields given change; a new email is unverified unless `email_verified` says otherwise."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, min_length=3, max_length=320)
    email_verified: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    is_admin: bool | None = Field(default=None, description="Changing it ends the user's sessions")

    @model_validator(mode="after")
    def _no_nulls(self) -> UserPatch:
        nulled = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulled:
            raise ValueError(f"{', '.join(sorted(nulled))} cannot be null; leave a field out to keep it")
        return self


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=4096)


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


@router.post(
    "",
    status_code=201,
    response_model=UserOut,
    responses=problems(401, 403, 409, 422),
    summary="Create a user",
)
async def create_user(body: UserIn, actor: Admin, domain: Domain) -> UserOut:
    row = await domain.users.create(
        actor,
        email=body.email,
        display_name=body.display_name,
        metadata=body.metadata,
        email_verified=body.email_verified,
        is_admin=body.is_admin,
        password=body.password,
    )
    return UserOut.of(row)


@router.get("", response_model=UserPage, responses=problems(401, 403), summary="List users, newest first")
async def list_users(
    actor: Admin,
    domain: Domain,
    search: Annotated[
        str | None, Query(max_length=320, description="Part of the email or display name, any case")
    ] = None,
    cursor: Annotated[uuid.UUID | None, Query(description="The `next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> UserPage:
    rows = await domain.users.list(search=search, before=cursor, limit=limit + 1)
    page = rows[:limit]
    return UserPage(
        items=[UserOut.of(r) for r in page], next_cursor=str(page[-1].id) if len(rows) > limit else None
    )


@router.get(
    "/{user_id}", response_model=UserOut, responses=problems(401, 403, 404), summary="Describe a user"
)
async def get_user(user_id: UserId, actor: Admin, domain: Domain) -> UserOut:
    return UserOut.of(await domain.users.get(user_id))


@router.patch(
    "/{user_id}", response_model=UserOut, responses=problems(401, 403, 404, 409, 422), summary="Update a user"
)
async def update_user(user_id: UserId, body: UserPatch, actor: Admin, domain: Domain) -> UserOut:
    changes = cast(UserChanges, body.model_dump(exclude_unset=True))
    return UserOut.of(await domain.users.update(actor, user_id, changes))


@router.post(
    "/{user_id}/disable",
    response_model=UserOut,
    responses=problems(401, 403, 404, 409),
    summary="Disable a user: they cannot sign in, their sessions end, their API keys stop working",
)
async def disable_user(user_id: UserId, actor: Admin, domain: Domain) -> UserOut:
    return UserOut.of(await domain.users.set_disabled(actor, user_id, True))


@router.post(
    "/{user_id}/enable",
    response_model=UserOut,
    responses=problems(401, 403, 404),
    summary="Enable a user again",
)
async def enable_user(user_id: UserId, actor: Admin, domain: Domain) -> UserOut:
    return UserOut.of(await domain.users.set_disabled(actor, user_id, False))


@router.delete(
    "/{user_id}",
    status_code=204,
    responses=problems(401, 403, 404, 409),
    summary="Delete a user with their sessions and API keys",
)
async def delete_user(user_id: UserId, actor: Admin, domain: Domain) -> None:
    await domain.users.delete(actor, user_id)


@router.post(
    "/{user_id}/password",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    summary="Set a user's password; their sessions end",
)
async def reset_password(user_id: UserId, body: PasswordIn, actor: Admin, domain: Domain) -> None:
    await domain.users.reset_password(actor, user_id, body.password)
