"""Queries on the JWT signing keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.tables import signing_keys
from assay_common.db import to_row

Json = Any


@dataclass(frozen=True)
class SigningKeyRow:
    """A signing key without its private part."""

    kid: str
    algorithm: str
    public_jwk: dict[str, Json]
    active: bool | None
    created_at: datetime
    retired_at: datetime | None
    drop_after: datetime | None


@dataclass(frozen=True)
class PrivateKeyRow:
    kid: str
    algorithm: str
    private_key: str
    sealed: bool
    created_at: datetime


_PUBLIC_COLUMNS = [c for c in signing_keys.c if c.name not in ("private_key", "sealed")]
_IS_ACTIVE = signing_keys.c.active == sa.true()
_INSERT = signing_keys.insert()
_PRIVATE_COLUMNS = [
    signing_keys.c[name] for name in ("kid", "algorithm", "private_key", "sealed", "created_at")
]
_ACTIVE = sa.select(*_PRIVATE_COLUMNS).where(_IS_ACTIVE)
_RETIRE = (
    signing_keys.update()
    .where(signing_keys.c.kid == sa.bindparam("b_kid"), _IS_ACTIVE)
    .values(active=None, retired_at=sa.bindparam("b_now"), drop_after=sa.bindparam("b_drop_after"))
)
_DROP = signing_keys.delete().where(
    signing_keys.c.active.is_(None), signing_keys.c.drop_after <= sa.bindparam("b_now")
)


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(_INSERT, values)


async def active(conn: AsyncConnection) -> PrivateKeyRow | None:
    row = (await conn.execute(_ACTIVE)).first()
    return to_row(PrivateKeyRow, row) if row else None


async def listed(conn: AsyncConnection, *, published_at: datetime | None = None) -> list[SigningKeyRow]:
    """Every key, newest first; with `published_at`, only those in the JWKS then (the active one
    and retired ones not yet to be dropped)."""
    query = sa.select(*_PUBLIC_COLUMNS).order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
    if published_at is not None:
        query = query.where(sa.or_(_IS_ACTIVE, signing_keys.c.drop_after > published_at))
    return [to_row(SigningKeyRow, row) for row in (await conn.execute(query)).all()]


async def retire(conn: AsyncConnection, kid: str, *, now: datetime, drop_after: datetime) -> bool:
    """Retire `kid` if it is still the active key; False when it is not (another rotation won)."""
    result = await conn.execute(_RETIRE, {"b_kid": kid, "b_now": now, "b_drop_after": drop_after})
    return result.rowcount > 0


async def drop_expired(conn: AsyncConnection, now: datetime) -> int:
    """Remove retired keys past their `drop_after`."""
    return (await conn.execute(_DROP, {"b_now": now})).rowcount
