"""Queries on activities and timers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import insert_ignoring_conflict, to_row
from assay_workflow.store.rows import ActivityRow, TimerRow
from assay_workflow.store.tables import activities, timers

SCHEDULED = "SCHEDULED"
RUNNING = "RUNNING"
#: Activity statuses in which the activity may still produce an outcome.
PENDING_STATUSES = (SCHEDULED, RUNNING)


# The statements on the hot paths are built once, with bound parameters (see store/runs.py).
_KEY = (activities.c.run_id == sa.bindparam("b_run_id"), activities.c.activity_seq == sa.bindparam("b_seq"))
_GET = sa.select(activities).where(*_KEY)
_UPDATE = activities.update().where(*_KEY)
_BY_LEASE_TOKEN = sa.select(activities).where(activities.c.lease_token == sa.bindparam("b_token"))
_CLAIMABLE = (
    sa.select(activities)
    .where(
        activities.c.namespace == sa.bindparam("b_namespace"),
        activities.c.task_queue == sa.bindparam("b_task_queue"),
        activities.c.status == SCHEDULED,
        activities.c.scheduled_at <= sa.bindparam("b_now"),
        activities.c.name.in_(sa.bindparam("b_names", expanding=True)),
    )
    .order_by(activities.c.scheduled_at)
    .limit(sa.bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)
_COUNT_RUNNING = (
    sa.select(sa.func.count())
    .select_from(activities)
    .where(activities.c.worker_id == sa.bindparam("b_worker_id"), activities.c.status == RUNNING)
)
_CANCEL_PENDING = (
    activities.update()
    .where(activities.c.run_id == sa.bindparam("b_run_id"), activities.c.status.in_(PENDING_STATUSES))
    .values(status="CANCELLED", cancel_requested=True, lease_token=None, timeout_at=None)
)
_CANCEL_PENDING_TIMERS = (
    timers.update()
    .where(timers.c.run_id == sa.bindparam("b_run_id"), timers.c.status == "PENDING")
    .values(status="CANCELLED")
)


async def _one(conn: AsyncConnection, statement: sa.Executable, params: dict[str, Any]) -> ActivityRow | None:
    row = (await conn.execute(statement, params)).first()
    return to_row(ActivityRow, row) if row else None


async def get(conn: AsyncConnection, run_id: uuid.UUID, activity_seq: int) -> ActivityRow | None:
    return await _one(conn, _GET, {"b_run_id": run_id, "b_seq": activity_seq})


async def of_run(conn: AsyncConnection, run_id: uuid.UUID) -> list[ActivityRow]:
    query = sa.select(activities).where(activities.c.run_id == run_id).order_by(activities.c.activity_seq)
    return [to_row(ActivityRow, row) for row in (await conn.execute(query)).all()]


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> ActivityRow | None:
    """Insert an activity and return it; None when the run has one of that seq already."""
    return await _one(conn, insert_ignoring_conflict(conn.dialect.name, activities, returning=True), values)


async def update(conn: AsyncConnection, run_id: uuid.UUID, activity_seq: int, **values: Any) -> None:
    await conn.execute(_UPDATE, {"b_run_id": run_id, "b_seq": activity_seq, **values})


async def cancel_pending(conn: AsyncConnection, run_id: uuid.UUID) -> None:
    """Cancel every activity of the run that could still produce an outcome (the run closed)."""
    await conn.execute(_CANCEL_PENDING, {"b_run_id": run_id})


async def by_lease_token(conn: AsyncConnection, token: uuid.UUID) -> ActivityRow | None:
    """Unlocked: callers lock the activity's run first, then read the activity again."""
    return await _one(conn, _BY_LEASE_TOKEN, {"b_token": token})


async def claimable(
    conn: AsyncConnection,
    *,
    namespace: str,
    task_queue: str,
    names: list[str],
    now: datetime,
    limit: int,
) -> list[ActivityRow]:
    """Scheduled activities whose `scheduled_at` (backoff included) has passed, locked for claiming."""
    if not names or limit <= 0:
        return []
    params = {
        "b_namespace": namespace,
        "b_task_queue": task_queue,
        "b_now": now,
        "b_names": names,
        "b_limit": limit,
    }
    return [to_row(ActivityRow, row) for row in (await conn.execute(_CLAIMABLE, params)).all()]


async def earliest_scheduled_at(
    conn: AsyncConnection, *, namespace: str, task_queue: str, names: list[str]
) -> datetime | None:
    query = sa.select(sa.func.min(activities.c.scheduled_at)).where(
        activities.c.namespace == namespace,
        activities.c.task_queue == task_queue,
        activities.c.status == SCHEDULED,
        activities.c.name.in_(names),
    )
    value: datetime | None = (await conn.execute(query)).scalar()
    return value


async def count_running(conn: AsyncConnection, worker_id: str) -> int:
    return int((await conn.execute(_COUNT_RUNNING, {"b_worker_id": worker_id})).scalar_one())


async def running_of_worker(conn: AsyncConnection, worker_id: str) -> list[ActivityRow]:
    query = sa.select(activities).where(activities.c.worker_id == worker_id, activities.c.status == RUNNING)
    return [to_row(ActivityRow, row) for row in (await conn.execute(query)).all()]


async def timed_out(conn: AsyncConnection, now: datetime, limit: int) -> list[ActivityRow]:
    query = (
        sa.select(activities)
        .where(activities.c.timeout_at <= now, activities.c.status.in_(PENDING_STATUSES))
        .order_by(activities.c.timeout_at)
        .limit(limit)
    )
    return [to_row(ActivityRow, row) for row in (await conn.execute(query)).all()]


async def get_timer(conn: AsyncConnection, run_id: uuid.UUID, timer_seq: int) -> TimerRow | None:
    query = sa.select(timers).where(timers.c.run_id == run_id, timers.c.timer_seq == timer_seq)
    row = (await conn.execute(query)).first()
    return to_row(TimerRow, row) if row else None


async def insert_timer(conn: AsyncConnection, run_id: uuid.UUID, timer_seq: int, fire_at: datetime) -> None:
    await conn.execute(
        timers.insert().values(run_id=run_id, timer_seq=timer_seq, fire_at=fire_at, status="PENDING")
    )


async def set_timer_status(conn: AsyncConnection, run_id: uuid.UUID, timer_seq: int, status: str) -> None:
    await conn.execute(
        timers.update()
        .where(timers.c.run_id == run_id, timers.c.timer_seq == timer_seq)
        .values(status=status)
    )


async def cancel_pending_timers(conn: AsyncConnection, run_id: uuid.UUID) -> None:
    await conn.execute(_CANCEL_PENDING_TIMERS, {"b_run_id": run_id})


async def pending_timers(conn: AsyncConnection, run_id: uuid.UUID) -> list[TimerRow]:
    query = sa.select(timers).where(timers.c.run_id == run_id, timers.c.status == "PENDING")
    return [to_row(TimerRow, row) for row in (await conn.execute(query)).all()]


async def due_timers(conn: AsyncConnection, now: datetime, limit: int) -> list[TimerRow]:
    query = (
        sa.select(timers)
        .where(timers.c.status == "PENDING", timers.c.fire_at <= now)
        .order_by(timers.c.fire_at)
        .limit(limit)
    )
    return [to_row(TimerRow, row) for row in (await conn.execute(query)).all()]


async def earliest_deadlines(conn: AsyncConnection) -> list[datetime | None]:
    """The next timer and the next activity timeout, for the timekeeper's sleep."""
    timer = sa.select(sa.func.min(timers.c.fire_at)).where(timers.c.status == "PENDING").scalar_subquery()
    timeout = (
        sa.select(sa.func.min(activities.c.timeout_at))
        .where(activities.c.status.in_(PENDING_STATUSES))
        .scalar_subquery()
    )
    row = (await conn.execute(sa.select(timer, timeout))).one()
    return [row[0], row[1]]


async def insert_many(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Insert several activities (full rows) in one statement."""
    if rows:
        await conn.execute(activities.insert(), rows)
