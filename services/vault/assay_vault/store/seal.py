"""Queries of the seal configuration and the key-encryption keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import insert_ignoring_conflict, to_row
from assay_vault.store.tables import kek_versions, seal_config

_ONE = 1


@dataclass(frozen=True)
class SealConfigRow:
    secret_shares: int
    secret_threshold: int
    root_check: bytes
    seal_epoch: int
    initialized_at: datetime
    sealed_at: datetime | None


# Built once: health and seal-status requests (polled by monitors and probes) read the config.
_GET_CONFIG = sa.select(*(seal_config.c[name] for name in SealConfigRow.__dataclass_fields__)).where(
    seal_config.c.id == _ONE
)
_GET_EPOCH = sa.select(seal_config.c.seal_epoch).where(seal_config.c.id == _ONE)


async def get_config(conn: AsyncConnection) -> SealConfigRow | None:
    row = (await conn.execute(_GET_CONFIG)).first()
    return None if row is None else to_row(SealConfigRow, row)


async def insert_config(conn: AsyncConnection, config: SealConfigRow) -> bool:
    """Store the seal of a new vault; False when the vault was initialized already."""
    statement = insert_ignoring_conflict(conn.dialect.name, seal_config)
    result = await conn.execute(statement, {"id": _ONE, **config.__dict__})
    return result.rowcount == 1


async def raise_epoch(conn: AsyncConnection, now: datetime) -> int | None:
    """Start a new seal epoch (a seal); the new epoch, None if the vault is not initialized."""
    statement = (
        sa.update(seal_config)
        .where(seal_config.c.id == _ONE)
        .values(seal_epoch=seal_config.c.seal_epoch + 1, sealed_at=now)
        .returning(seal_config.c.seal_epoch)
    )
    found: int | None = (await conn.execute(statement)).scalar_one_or_none()
    return found


async def epoch(conn: AsyncConnection) -> int | None:
    found: int | None = (await conn.execute(_GET_EPOCH)).scalar_one_or_none()
    return found


async def keks(conn: AsyncConnection, *, newer_than: int = 0) -> dict[int, bytes]:
    """The wrapped KEKs by version."""
    statement = sa.select(kek_versions.c.version, kek_versions.c.wrapped_key).where(
        kek_versions.c.version > newer_than
    )
    return {row.version: row.wrapped_key for row in await conn.execute(statement)}


async def latest_kek_version(conn: AsyncConnection) -> int:
    statement = sa.select(sa.func.coalesce(sa.func.max(kek_versions.c.version), 0))
    return int((await conn.execute(statement)).scalar_one())


async def insert_kek(conn: AsyncConnection, version: int, wrapped: bytes, now: datetime) -> bool:
    """Store KEK `version`; False when that version exists (made at the same time elsewhere)."""
    statement = insert_ignoring_conflict(conn.dialect.name, kek_versions)
    result = await conn.execute(statement, {"version": version, "wrapped_key": wrapped, "created_at": now})
    return result.rowcount == 1


async def kek_created_at(conn: AsyncConnection, version: int) -> datetime | None:
    statement = sa.select(kek_versions.c.created_at).where(kek_versions.c.version == version)
    found: datetime | None = (await conn.execute(statement)).scalar_one_or_none()
    return found
