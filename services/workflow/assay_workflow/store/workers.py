"""Queries on registered workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import to_row
from assay_workflow.store.rows import WorkerRow
from assay_workflow.store.tables import workers


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(workers.insert().values(**values))


async def get(conn: AsyncConnection, worker_id: str) -> WorkerRow | None:
    row = (await conn.execute(sa.select(workers).where(workers.c.worker_id == worker_id))).first()
    return to_row(WorkerRow, row) if row else None


_TOUCH = workers.update().where(workers.c.worker_id == sa.bindparam("b_worker_id"))


async def touch(conn: AsyncConnection, worker_id: str, now: datetime) -> bool:
    result = await conn.execute(_TOUCH, {"b_worker_id": worker_id, "last_heartbeat": now})
    return result.rowcount > 0


async def delete(conn: AsyncConnection, worker_id: str) -> bool:
    result = await conn.execute(workers.delete().where(workers.c.worker_id == worker_id))
    return result.rowcount > 0


async def list_page(
    conn: AsyncConnection, *, namespace: str, after: str | None, limit: int
) -> list[WorkerRow]:
    query = sa.select(workers).where(workers.c.namespace == namespace)
    if after is not None:
        query = query.where(workers.c.worker_id > after)
    query = query.order_by(workers.c.worker_id).limit(limit)
    return [to_row(WorkerRow, row) for row in (await conn.execute(query)).all()]


async def silent_since(conn: AsyncConnection, cutoff: datetime, limit: int) -> list[str]:
    query = (
        sa.select(workers.c.worker_id)
        .where(workers.c.last_heartbeat < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await conn.execute(query)).scalars().all())


async def oldest_heartbeat(conn: AsyncConnection) -> datetime | None:
    value: datetime | None = (await conn.execute(sa.select(sa.func.min(workers.c.last_heartbeat)))).scalar()
    return value
