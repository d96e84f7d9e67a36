"""Queries on namespaces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import insert_ignoring_conflict
from assay_workflow.store.tables import namespaces, runs, schedules, workers


@dataclass(frozen=True)
class NamespaceRow:
    name: str
    description: str
    created_at: datetime
    #: How many days its closed runs are kept; None: the service's default.
    retention_days: int | None = None


@dataclass(frozen=True)
class NamespaceUsage:
    """What a namespace holds: its runs by status, its schedules and its registered workers."""

    runs_by_status: dict[str, int]
    schedules: int
    workers: int


#: The columns of a `NamespaceRow`.
_COLUMNS = (namespaces.c.name, namespaces.c.description, namespaces.c.created_at, namespaces.c.retention_days)


def _row(row: sa.Row[Any, Any, Any, Any]) -> NamespaceRow:
    return NamespaceRow(
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        retention_days=row.retention_days,
    )


async def get(conn: AsyncConnection, name: str, *, for_update: bool = False) -> NamespaceRow | None:
    query = sa.select(*_COLUMNS).where(namespaces.c.name == name)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _row(row) if row else None


async def usage(conn: AsyncConnection, name: str) -> NamespaceUsage:
    by_status = (
        sa.select(runs.c.status, sa.func.count()).where(runs.c.namespace == name).group_by(runs.c.status)
    )
    schedule_count = sa.select(sa.func.count()).select_from(schedules).where(schedules.c.namespace == name)
    worker_count = sa.select(sa.func.count()).select_from(workers).where(workers.c.namespace == name)
    return NamespaceUsage(
        runs_by_status={status: count for status, count in (await conn.execute(by_status)).all()},
        schedules=int(await conn.scalar(schedule_count) or 0),
        workers=int(await conn.scalar(worker_count) or 0),
    )


async def list_page(conn: AsyncConnection, *, after: str | None, limit: int) -> list[NamespaceRow]:
    query = sa.select(*_COLUMNS).order_by(namespaces.c.name).limit(limit)
    if after is not None:
        query = query.where(namespaces.c.name > after)
    return [_row(row) for row in (await conn.execute(query)).all()]


async def insert(conn: AsyncConnection, row: NamespaceRow) -> bool:
    """Insert `row`; False when a namespace of that name exists already."""
    statement = insert_ignoring_conflict(conn.dialect.name, namespaces)
    values = {
        "name": row.name,
        "description": row.description,
        "created_at": row.created_at,
        "retention_days": row.retention_days,
    }
    return (await conn.execute(statement, values)).rowcount > 0


async def update(conn: AsyncConnection, name: str, **values: Any) -> NamespaceRow | None:
    """Change the namespace's columns named in `values`; None when there is no such namespace."""
    statement = namespaces.update().where(namespaces.c.name == name).values(**values).returning(*_COLUMNS)
    row = (await conn.execute(statement)).first()
    return _row(row) if row else None


async def delete(conn: AsyncConnection, name: str) -> bool:
    result = await conn.execute(namespaces.delete().where(namespaces.c.name == name))
    return result.rowcount > 0


async def mark_announced(conn: AsyncConnection, name: str) -> bool:
    """Record that `name`'s `namespace_created` event is published (by the caller, in the same
    transaction); False when it was already, or there is no such namespace. Of replicas trying at
    once exactly one gets True: the update waits for the first one's row lock."""
    statement = (
        namespaces.update()
        .where(namespaces.c.name == name, namespaces.c.announced == sa.false())
        .values(announced=True)
    )
    return (await conn.execute(statement)).rowcount > 0
