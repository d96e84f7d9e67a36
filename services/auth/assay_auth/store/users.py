"""Queries on users."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.rows import UserRow
from assay_auth.store.tables import users
from assay_common.db import contains_any_case, insert_ignoring_conflict, to_row

_BY_ID = sa.select(users).where(users.c.id == sa.bindparam("b_id"))
_BY_EMAIL_KEY = sa.select(users).where(users.c.email_key == sa.bindparam("b_email_key"))
_UPDATE = users.update().where(users.c.id == sa.bindparam("b_id"))
_DELETE = users.delete().where(users.c.id == sa.bindparam("b_id"))


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert a user; False when the id or the email is taken already."""
    statement = insert_ignoring_conflict(conn.dialect.name, users)
    return (await conn.execute(statement, values)).rowcount > 0


async def get(conn: AsyncConnection, user_id: uuid.UUID, *, for_update: bool = False) -> UserRow | None:
    query = _BY_ID.with_for_update() if for_update and conn.dialect.name == "postgresql" else _BY_ID
    row = (await conn.execute(query, {"b_id": user_id})).first()
    return to_row(UserRow, row) if row else None


async def by_email_key(conn: AsyncConnection, email_key: str) -> UserRow | None:
    row = (await conn.execute(_BY_EMAIL_KEY, {"b_email_key": email_key})).first()
    return to_row(UserRow, row) if row else None


async def list_page(
    conn: AsyncConnection, *, search: str | None, before: uuid.UUID | None, limit: int
) -> list[UserRow]:
    """Newest first (ids are UUIDv7); `search` is a case-insensitive substring of email or name."""
    query = sa.select(users).order_by(users.c.id.desc()).limit(limit)
    if search:
        query = query.where(contains_any_case([users.c.email_key, users.c.display_name], search))
    if before is not None:
        query = query.where(users.c.id < before)
    return [to_row(UserRow, row) for row in (await conn.execute(query)).all()]


async def update(conn: AsyncConnection, user_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(_UPDATE, {"b_id": user_id, **values})


async def delete(conn: AsyncConnection, user_id: uuid.UUID) -> bool:
    return (await conn.execute(_DELETE, {"b_id": user_id})).rowcount > 0


async def lock_and_check_empty(conn: AsyncConnection) -> bool:
    """Whether there is no user yet, with new users held back until this transaction ends (on
    SQLite every writing transaction already excludes the others)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
    return await is_empty(conn)


async def is_empty(conn: AsyncConnection) -> bool:
    """Whether there is no user yet."""
    return (await conn.execute(sa.select(users.c.id).limit(1))).first() is None
