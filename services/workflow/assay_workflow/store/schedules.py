"""Queries on schedules and the record of their fires."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import insert_ignoring_conflict, to_row
from assay_workflow.store.rows import Json
from assay_workflow.store.tables import OPEN_STATUS, runs, schedule_fires, schedules

#: What became of a fire.
STARTED, SKIPPED, BUFFERED, MISSED = "started", "skipped", "buffered", "missed"


@dataclass(frozen=True)
class ScheduleRow:
    namespace: str
    schedule_id: str
    workflow_type: str
    task_queue: str
    input: Json
    search_attributes: dict[str, Json]
    run_timeout_seconds: float | None
    expression: str
    timezone: str
    jitter_seconds: float
    start_at: datetime | None
    end_at: datetime | None
    overlap_policy: str
    catchup_window_seconds: float
    paused: bool
    note: str
    created_at: datetime
    updated_at: datetime
    next_nominal_at: datetime | None
    next_due_at: datetime | None
    last_fired_at: datetime | None
    running: list[str]
    buffered: int
    missed: int


@dataclass(frozen=True)
class FireRow:
    fire_id: uuid.UUID
    namespace: str
    schedule_id: str
    trigger: str
    nominal_at: datetime
    fired_at: datetime
    outcome: str
    workflow_id: str | None
    run_id: uuid.UUID | None
    fencing_token: int | None


def _key(namespace: str, schedule_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(schedules.c.namespace == namespace, schedules.c.schedule_id == schedule_id)


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert a schedule; False when one of that id already exists in the namespace."""
    statement = insert_ignoring_conflict(conn.dialect.name, schedules)
    return bool((await conn.execute(statement, values)).rowcount)


async def get(
    conn: AsyncConnection, namespace: str, schedule_id: str, *, for_update: bool = False
) -> ScheduleRow | None:
    query = sa.select(schedules).where(_key(namespace, schedule_id))
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return to_row(ScheduleRow, row) if row else None


async def list_page(
    conn: AsyncConnection, namespace: str, *, after: str | None, limit: int
) -> list[ScheduleRow]:
    query = sa.select(schedules).where(schedules.c.namespace == namespace)
    if after is not None:
        query = query.where(schedules.c.schedule_id > after)
    query = query.order_by(schedules.c.schedule_id).limit(limit)
    return [to_row(ScheduleRow, row) for row in await conn.execute(query)]


async def update(conn: AsyncConnection, namespace: str, schedule_id: str, **values: Any) -> None:
    await conn.execute(schedules.update().where(_key(namespace, schedule_id)).values(**values))


async def delete(conn: AsyncConnection, namespace: str, schedule_id: str) -> bool:
    deleted = await conn.execute(schedules.delete().where(_key(namespace, schedule_id)))
    await conn.execute(
        schedule_fires.delete().where(
            schedule_fires.c.namespace == namespace, schedule_fires.c.schedule_id == schedule_id
        )
    )
    return bool(deleted.rowcount)


async def delete_all(conn: AsyncConnection, namespace: str) -> None:
    """Every schedule of `namespace`, and their fires."""
    await conn.execute(schedules.delete().where(schedules.c.namespace == namespace))
    await conn.execute(schedule_fires.delete().where(schedule_fires.c.namespace == namespace))


async def needing_attention(conn: AsyncConnection, now: datetime, limit: int) -> list[tuple[str, str]]:
    """Schedules with a slot due by `now` or fires waiting in their buffer, oldest due first."""
    due = schedules.c.paused.is_(False) & (schedules.c.next_due_at <= now)
    query = (
        sa.select(schedules.c.namespace, schedules.c.schedule_id)
        .where(due | (schedules.c.buffered > 0))
        .order_by(schedules.c.next_due_at)
        .limit(limit)
    )
    return [(row.namespace, row.schedule_id) for row in await conn.execute(query)]


async def earliest_due(conn: AsyncConnection) -> datetime | None:
    query = sa.select(sa.func.min(schedules.c.next_due_at)).where(schedules.c.paused.is_(False))
    found: datetime | None = (await conn.execute(query)).scalar_one()
    return found


async def any_buffered(conn: AsyncConnection) -> bool:
    query = sa.select(schedules.c.schedule_id).where(schedules.c.buffered > 0).limit(1)
    return (await conn.execute(query)).first() is not None


async def still_open(conn: AsyncConnection, namespace: str, workflow_ids: Collection[str]) -> list[str]:
    """Those of `workflow_ids` that have an open run, in the order given."""
    if not workflow_ids:
        return []
    query = sa.select(runs.c.workflow_id).where(
        runs.c.namespace == namespace,
        runs.c.workflow_id.in_(list(workflow_ids)),
        runs.c.status == OPEN_STATUS,
    )
    found = set((await conn.execute(query)).scalars())
    return [workflow_id for workflow_id in workflow_ids if workflow_id in found]


async def record_fire(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Record a fire; False when its slot was acted on already (the slot's row exists)."""
    statement = insert_ignoring_conflict(conn.dialect.name, schedule_fires)
    return bool((await conn.execute(statement, values)).rowcount)


async def oldest_buffered(conn: AsyncConnection, namespace: str, schedule_id: str) -> FireRow | None:
    query = (
        sa.select(schedule_fires)
        .where(
            schedule_fires.c.namespace == namespace,
            schedule_fires.c.schedule_id == schedule_id,
            schedule_fires.c.outcome == BUFFERED,
        )
        .order_by(schedule_fires.c.nominal_at, schedule_fires.c.fire_id)
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return to_row(FireRow, row) if row else None


async def update_fire(conn: AsyncConnection, fire_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(schedule_fires.update().where(schedule_fires.c.fire_id == fire_id).values(**values))


async def drop_buffered(conn: AsyncConnection, namespace: str, schedule_id: str) -> int:
    """Mark every buffered fire skipped (a buffer of one keeps only its newest); how many."""
    changed = await conn.execute(
        schedule_fires.update()
        .where(
            schedule_fires.c.namespace == namespace,
            schedule_fires.c.schedule_id == schedule_id,
            schedule_fires.c.outcome == BUFFERED,
        )
        .values(outcome=SKIPPED)
    )
    return changed.rowcount


async def recent_fires(conn: AsyncConnection, namespace: str, schedule_id: str, limit: int) -> list[FireRow]:
    query = (
        sa.select(schedule_fires)
        .where(schedule_fires.c.namespace == namespace, schedule_fires.c.schedule_id == schedule_id)
        .order_by(schedule_fires.c.fired_at.desc(), schedule_fires.c.nominal_at.desc())
        .limit(limit)
    )
    return [to_row(FireRow, row) for row in await conn.execute(query)]


async def forget_old_fires(conn: AsyncConnection, namespace: str, schedule_id: str, keep: int) -> None:
    """Keep the newest `keep` settled fires of a schedule (buffered ones are kept until they start)."""
    newest = (
        sa.select(schedule_fires.c.fire_id)
        .where(schedule_fires.c.namespace == namespace, schedule_fires.c.schedule_id == schedule_id)
        .order_by(schedule_fires.c.fired_at.desc(), schedule_fires.c.nominal_at.desc())
        .limit(keep)
    )
    await conn.execute(
        schedule_fires.delete().where(
            schedule_fires.c.namespace == namespace,
            schedule_fires.c.schedule_id == schedule_id,
            schedule_fires.c.outcome != BUFFERED,
            schedule_fires.c.fire_id.not_in(newest.scalar_subquery()),
        )
    )
