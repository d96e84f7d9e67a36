"""Queries on password-recovery tokens (stored as SHA-256 digests)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.tables import recovery_tokens

_ISSUED_AT = sa.select(recovery_tokens.c.created_at).where(
    recovery_tokens.c.user_id == sa.bindparam("b_user")
)
_LIVE = sa.select(recovery_tokens.c.user_id).where(
    recovery_tokens.c.token_hash == sa.bindparam("b_hash"),
    recovery_tokens.c.expires_at > sa.bindparam("b_now"),
)
_TAKE = (
    recovery_tokens.delete()
    .where(
        recovery_tokens.c.token_hash == sa.bindparam("b_hash"),
        recovery_tokens.c.expires_at > sa.bindparam("b_now"),
    )
    .returning(recovery_tokens.c.user_id)
)


async def issued_at(conn: AsyncConnection, user_id: uuid.UUID) -> datetime | None:
    """When the user's current token was made, if there is one."""
    value: datetime | None = (await conn.execute(_ISSUED_AT, {"b_user": user_id})).scalar()
    return value


async def replace(
    conn: AsyncConnection, user_id: uuid.UUID, *, token_hash: str, created_at: datetime, expires_at: datetime
) -> None:
    """Make `token_hash` the user's only token."""
    await conn.execute(recovery_tokens.delete().where(recovery_tokens.c.user_id == user_id))
    await conn.execute(
        recovery_tokens.insert(),
        {"token_hash": token_hash, "user_id": user_id, "created_at": created_at, "expires_at": expires_at},
    )


async def owner(conn: AsyncConnection, token_hash: str, *, now: datetime) -> uuid.UUID | None:
    """The user of a live token."""
    value: uuid.UUID | None = (await conn.execute(_LIVE, {"b_hash": token_hash, "b_now": now})).scalar()
    return value


async def take(conn: AsyncConnection, token_hash: str, *, now: datetime) -> uuid.UUID | None:
    """Use up a live token: of two concurrent uses exactly one gets its user."""
    value: uuid.UUID | None = (await conn.execute(_TAKE, {"b_hash": token_hash, "b_now": now})).scalar()
    return value


async def delete_expired(conn: AsyncConnection, *, now: datetime) -> int:
    return (await conn.execute(recovery_tokens.delete().where(recovery_tokens.c.expires_at <= now))).rowcount
