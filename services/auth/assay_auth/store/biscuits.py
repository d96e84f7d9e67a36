"""Queries on the biscuit root keys and the revoked block ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.tables import biscuit_revocations, biscuit_root_keys
from assay_common.db import insert_ignoring_conflict, to_row


@dataclass(frozen=True)
class RootKeyRow:
    """A root key without its private part."""

    id: int
    public_key: str
    active: bool | None
    created_at: datetime
    rotated_at: datetime | None


@dataclass(frozen=True)
class PrivateRootKeyRow:
    id: int
    public_key: str
    private_key: str
    sealed: bool


@dataclass(frozen=True)
class RevocationRow:
    seq: int
    revocation_id: str
    revoked_at: datetime


_keys = biscuit_root_keys.c
_PUBLIC = [_keys.id, _keys.public_key, _keys.active, _keys.created_at, _keys.rotated_at]
_PRIVATE = [_keys.id, _keys.public_key, _keys.private_key, _keys.sealed]
_IS_ACTIVE = _keys.active == sa.true()
_ROTATE = (
    biscuit_root_keys.update()
    .where(_keys.id == sa.bindparam("b_id"), _IS_ACTIVE)
    .values(active=None, rotated_at=sa.bindparam("b_now"))
)


async def active(conn: AsyncConnection) -> PrivateRootKeyRow | None:
    row = (await conn.execute(sa.select(*_PRIVATE).where(_IS_ACTIVE))).first()
    return to_row(PrivateRootKeyRow, row) if row else None


async def next_id(conn: AsyncConnection) -> int:
    """The id of the next key: one more than the highest. The active key is always the highest
    (only it is ever made last, and it cannot be retired), so an id is never used twice."""
    highest = (await conn.execute(sa.select(sa.func.max(_keys.id)))).scalar()
    return int(highest or 0) + 1


async def insert(
    conn: AsyncConnection, *, key_id: int, public_key: str, private_key: str, sealed: bool, now: datetime
) -> None:
    await conn.execute(
        biscuit_root_keys.insert(),
        {
            "id": key_id,
            "public_key": public_key,
            "private_key": private_key,
            "sealed": sealed,
            "active": True,
            "created_at": now,
            "rotated_at": None,
        },
    )


async def rotate(conn: AsyncConnection, key_id: int, *, now: datetime) -> bool:
    """Stop `key_id` signing if it is still the active key; False when it is not."""
    result = await conn.execute(_ROTATE, {"b_id": key_id, "b_now": now})
    return result.rowcount > 0


async def listed(conn: AsyncConnection) -> list[RootKeyRow]:
    """Every key, newest first."""
    query = sa.select(*_PUBLIC).order_by(_keys.id.desc())
    return [to_row(RootKeyRow, row) for row in (await conn.execute(query)).all()]


async def get(conn: AsyncConnection, key_id: int) -> RootKeyRow | None:
    row = (await conn.execute(sa.select(*_PUBLIC).where(_keys.id == key_id))).first()
    return to_row(RootKeyRow, row) if row else None


async def delete_rotated(conn: AsyncConnection, key_id: int) -> bool:
    """Remove `key_id` unless it is the active key."""
    result = await conn.execute(biscuit_root_keys.delete().where(_keys.id == key_id, _keys.active.is_(None)))
    return result.rowcount > 0


async def add_revocations(conn: AsyncConnection, revocation_ids: Sequence[str], now: datetime) -> list[str]:
    """Record the ids; returns those that were not recorded yet."""
    statement = insert_ignoring_conflict(conn.dialect.name, biscuit_revocations, returning=True)
    added: list[str] = []
    for revocation_id in dict.fromkeys(revocation_ids):
        row = (await conn.execute(statement, {"revocation_id": revocation_id, "revoked_at": now})).first()
        if row is not None:
            added.append(revocation_id)
    return added


async def revoked_among(conn: AsyncConnection, revocation_ids: Sequence[str]) -> set[str]:
    if not revocation_ids:
        return set()
    column = biscuit_revocations.c.revocation_id
    rows = await conn.execute(sa.select(column).where(column.in_(list(revocation_ids))))
    return {row[0] for row in rows}


async def revocations(conn: AsyncConnection, *, after: int, limit: int) -> list[RevocationRow]:
    """Revocations in the order they were recorded, after the cursor `after` (a `seq`)."""
    columns = biscuit_revocations.c
    query = sa.select(*columns).where(columns.seq > after).order_by(columns.seq).limit(limit)
    return [to_row(RevocationRow, row) for row in (await conn.execute(query)).all()]
