"""Queries on sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.rows import SessionRow, UserRow
from assay_auth.store.tables import sessions, users
from assay_common.db import to_row

_SESSION_COLUMNS = [c for c in sessions.c if c.name != "secret_hash"]
_INSERT = sessions.insert()
_BY_SECRET = (
    sa.select(*_SESSION_COLUMNS, *[c.label(f"u_{c.name}") for c in users.c])
    .join(users, users.c.id == sessions.c.user_id)
    .where(sessions.c.secret_hash == sa.bindparam("b_secret_hash"))
)
_BY_ID = sa.select(*_SESSION_COLUMNS).where(sessions.c.id == sa.bindparam("b_id"))
# A touch only writes when the last one is older than the cutoff, so a busy session is written
# to at most once per interval whichever replica sees it.
_TOUCH = (
    sessions.update()
    .where(sessions.c.id == sa.bindparam("b_id"), sessions.c.last_seen_at <= sa.bindparam("b_cutoff"))
    .values(last_seen_at=sa.bindparam("b_now"))
)
_DELETE = sessions.delete().where(sessions.c.id == sa.bindparam("b_id"))


@dataclass(frozen=True)
class SessionWithUser:
    session: SessionRow
    user: UserRow


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(_INSERT, values)


async def by_secret_hash(conn: AsyncConnection, secret_hash: str) -> SessionWithUser | None:
    row = (await conn.execute(_BY_SECRET, {"b_secret_hash": secret_hash})).first()
    if row is None:
        return None
    user = to_row(UserRow, row, prefix="u_")
    return SessionWithUser(to_row(SessionRow, row), user)


async def get(conn: AsyncConnection, session_id: uuid.UUID) -> SessionRow | None:
    row = (await conn.execute(_BY_ID, {"b_id": session_id})).first()
    return to_row(SessionRow, row) if row else None


async def touch(conn: AsyncConnection, session_id: uuid.UUID, *, now: datetime, cutoff: datetime) -> None:
    await conn.execute(_TOUCH, {"b_id": session_id, "b_now": now, "b_cutoff": cutoff})


async def delete(conn: AsyncConnection, session_id: uuid.UUID) -> bool:
    return (await conn.execute(_DELETE, {"b_id": session_id})).rowcount > 0


async def delete_by_secret_hash(conn: AsyncConnection, secret_hash: str) -> SessionRow | None:
    """Delete the session with this secret; the deleted session, or None when there was none."""
    statement = sessions.delete().where(sessions.c.secret_hash == secret_hash).returning(*_SESSION_COLUMNS)
    row = (await conn.execute(statement)).first()
    return to_row(SessionRow, row) if row else None


async def delete_of_owner(
    conn: AsyncConnection, session_id: uuid.UUID, user_id: uuid.UUID
) -> SessionRow | None:
    """Delete a session if it is `user_id`'s; the deleted session, or None."""
    statement = (
        sessions.delete()
        .where(sessions.c.id == session_id, sessions.c.user_id == user_id)
        .returning(*_SESSION_COLUMNS)
    )
    row = (await conn.execute(statement)).first()
    return to_row(SessionRow, row) if row else None


async def delete_of_user(
    conn: AsyncConnection, user_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Delete every session of a user (but `keep`); the ids deleted."""
    statement = sessions.delete().where(sessions.c.user_id == user_id)
    if keep is not None:
        statement = statement.where(sessions.c.id != keep)
    return list((await conn.execute(statement.returning(sessions.c.id))).scalars())


async def live_of_user(
    conn: AsyncConnection, user_id: uuid.UUID, *, now: datetime, idle_cutoff: datetime
) -> list[SessionRow]:
    """The user's sessions that have neither expired nor idled out, newest first."""
    query = (
        sa.select(*_SESSION_COLUMNS)
        .where(
            sessions.c.user_id == user_id,
            sessions.c.expires_at > now,
            sessions.c.last_seen_at > idle_cutoff,
        )
        .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
    )
    return [to_row(SessionRow, row) for row in (await conn.execute(query)).all()]


async def delete_ended(conn: AsyncConnection, *, now: datetime, idle_cutoff: datetime) -> int:
    statement = sessions.delete().where(
        sa.or_(sessions.c.expires_at <= now, sessions.c.last_seen_at <= idle_cutoff)
    )
    return (await conn.execute(statement)).rowcount
