"""Queries on API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.rows import ApiKeyRow, UserRow
from assay_auth.store.tables import api_keys, users
from assay_common.db import to_row

_KEY_COLUMNS = [c for c in api_keys.c if c.name != "secret_hash"]
_INSERT = api_keys.insert()
_BY_SECRET = (
    sa.select(*_KEY_COLUMNS, *[c.label(f"u_{c.name}") for c in users.c])
    .join(users, users.c.id == api_keys.c.user_id)
    .where(api_keys.c.secret_hash == sa.bindparam("b_secret_hash"))
)
_BY_ID = sa.select(*_KEY_COLUMNS).where(api_keys.c.id == sa.bindparam("b_id"))
_TOUCH = (
    api_keys.update()
    .where(
        api_keys.c.id == sa.bindparam("b_id"),
        sa.or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at <= sa.bindparam("b_cutoff")),
    )
    .values(last_used_at=sa.bindparam("b_now"))
)
_DELETE = api_keys.delete().where(api_keys.c.id == sa.bindparam("b_id"))


@dataclass(frozen=True)
class ApiKeyWithUser:
    key: ApiKeyRow
    user: UserRow


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(_INSERT, values)


async def by_secret_hash(conn: AsyncConnection, secret_hash: str) -> ApiKeyWithUser | None:
    row = (await conn.execute(_BY_SECRET, {"b_secret_hash": secret_hash})).first()
    if row is None:
        return None
    user = to_row(UserRow, row, prefix="u_")
    return ApiKeyWithUser(to_row(ApiKeyRow, row), user)


async def get(conn: AsyncConnection, key_id: uuid.UUID) -> ApiKeyRow | None:
    row = (await conn.execute(_BY_ID, {"b_id": key_id})).first()
    return to_row(ApiKeyRow, row) if row else None


async def touch(conn: AsyncConnection, key_id: uuid.UUID, *, now: datetime, cutoff: datetime) -> bool:
    """Record a use, unless one was recorded after `cutoff`; True when written."""
    result = await conn.execute(_TOUCH, {"b_id": key_id, "b_now": now, "b_cutoff": cutoff})
    return result.rowcount > 0


async def list_of_user(
    conn: AsyncConnection, user_id: uuid.UUID, *, before: uuid.UUID | None, limit: int
) -> list[ApiKeyRow]:
    query = (
        sa.select(*_KEY_COLUMNS)
        .where(api_keys.c.user_id == user_id)
        .order_by(api_keys.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(api_keys.c.id < before)
    return [to_row(ApiKeyRow, row) for row in (await conn.execute(query)).all()]


async def delete(conn: AsyncConnection, key_id: uuid.UUID) -> bool:
    return (await conn.execute(_DELETE, {"b_id": key_id})).rowcount > 0
