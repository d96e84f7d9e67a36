"""Queries on mounts: where a secrets engine is enabled, and its settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import insert_ignoring_conflict, to_row
from assay_vault.store.tables import mounts


@dataclass(frozen=True)
class MountRow:
    path: str
    type: str
    version: int
    description: str
    accessor: str
    uuid: str
    default_lease_ttl: int
    max_lease_ttl: int
    max_versions: int
    cas_required: bool
    metadata_cas_required: bool
    delete_version_after: int
    created_at: datetime


#: Built once: every secret operation reads its mount (parameter `at_path`).
_GET = sa.select(mounts).where(mounts.c.path == sa.bindparam("at_path"))
_GET_FOR_SHARE = _GET.with_for_update(read=True)


async def get(conn: AsyncConnection, path: str, *, for_share: bool = False) -> MountRow | None:
    """The mount at `path`; `for_share` keeps it from being disabled (or its settings changed)
    until the caller's transaction ends, on Postgres (SQLite's writers are serialised anyway)."""
    query = _GET_FOR_SHARE if for_share and conn.dialect.name == "postgresql" else _GET
    row = (await conn.execute(query, {"at_path": path})).first()
    return to_row(MountRow, row) if row else None


async def list_all(conn: AsyncConnection) -> list[MountRow]:
    rows = (await conn.execute(sa.select(mounts).order_by(mounts.c.path))).all()
    return [to_row(MountRow, row) for row in rows]


async def insert(conn: AsyncConnection, row: MountRow) -> bool:
    """Insert `row`; False when a mount exists at its path already."""
    statement = insert_ignoring_conflict(conn.dialect.name, mounts)
    return (await conn.execute(statement, asdict(row))).rowcount > 0


async def update(conn: AsyncConnection, path: str, values: dict[str, Any]) -> bool:
    if not values:
        return await get(conn, path) is not None
    result = await conn.execute(mounts.update().where(mounts.c.path == path).values(**values))
    return result.rowcount > 0


async def delete(conn: AsyncConnection, path: str) -> bool:
    """Delete the mount at `path` and, by cascade, every secret in it."""
    result = await conn.execute(mounts.delete().where(mounts.c.path == path))
    return result.rowcount > 0
