"""Queries on runs, their history and their query state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_workflow.store.rows import HistoryEvent, Json, QueryStateRow, RunRow, to_row
from assay_workflow.store.tables import OPEN_STATUS, history, query_state, runs


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert a run; False when an open run of that workflow id exists already (the partial
    unique index decides, so two concurrent starts cannot both win)."""
    try:
        # In a savepoint, so that the caller's transaction stays usable after a refusal.
        async with conn.begin_nested():
            await conn.execute(runs.insert().values(**values))
    except sa.exc.IntegrityError:
        return False
    return True


async def get(conn: AsyncConnection, run_id: uuid.UUID, *, for_update: bool = False) -> RunRow | None:
    query = sa.select(runs).where(runs.c.run_id == run_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return to_row(RunRow, row) if row else None


async def latest(
    conn: AsyncConnection, namespace: str, workflow_id: str, *, for_update: bool = False
) -> RunRow | None:
    """The newest run of a workflow id (run ids are UUIDv7, so they sort by creation)."""
    query = (
        sa.select(runs)
        .where(runs.c.namespace == namespace, runs.c.workflow_id == workflow_id)
        .order_by(runs.c.run_id.desc())
        .limit(1)
    )
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return to_row(RunRow, row) if row else None


async def update(conn: AsyncConnection, run_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(runs.update().where(runs.c.run_id == run_id).values(**values))


async def list_page(
    conn: AsyncConnection,
    *,
    namespace: str,
    status: str | None,
    workflow_type: str | None,
    search_attributes: dict[str, Json],
    started_after: datetime | None,
    started_before: datetime | None,
    before_run_id: uuid.UUID | None,
    limit: int,
) -> list[RunRow]:
    query = sa.select(runs).where(runs.c.namespace == namespace)
    if status is not None:
        query = query.where(runs.c.status == status)
    if workflow_type is not None:
        query = query.where(runs.c.workflow_type == workflow_type)
    if started_after is not None:
        query = query.where(runs.c.created_at >= started_after)
    if started_before is not None:
        query = query.where(runs.c.created_at < started_before)
    if before_run_id is not None:
        query = query.where(runs.c.run_id < before_run_id)
    for key, value in search_attributes.items():
        query = query.where(_attribute_equals(conn.dialect.name, key, value))
    query = query.order_by(runs.c.run_id.desc()).limit(limit)
    return [to_row(RunRow, row) for row in (await conn.execute(query)).all()]


def _attribute_equals(backend: str, key: str, value: Json) -> sa.ColumnElement[bool]:
    """`search_attributes[key] == value`, comparing JSON types (a string "1" is not the number 1)."""
    if backend == "postgresql":
        return sa.cast(runs.c.search_attributes, postgresql.JSONB).contains({key: value})
    path = f'$."{key}"'
    extracted = sa.func.json_extract(runs.c.search_attributes, path)
    kind = sa.func.json_type(runs.c.search_attributes, path)
    if isinstance(value, bool):
        return kind == ("true" if value else "false")
    if isinstance(value, str):
        return sa.and_(kind == "text", extracted == value)
    return sa.and_(kind.in_(("integer", "real")), extracted == value)


async def claim_tasks(
    conn: AsyncConnection,
    *,
    namespace: str,
    task_queue: str,
    workflow_types: list[str],
    worker_id: str,
    now: datetime,
    lease_expires_at: datetime,
    limit: int,
) -> list[RunRow]:
    """Lease up to `limit` ready workflow tasks; each claim gets a fresh lease token."""
    if not workflow_types or limit <= 0:
        return []
    candidates = (
        sa.select(runs.c.run_id)
        .where(
            runs.c.namespace == namespace,
            runs.c.task_queue == task_queue,
            runs.c.task_ready.is_(True),
            runs.c.task_ready_at <= now,
            runs.c.status == OPEN_STATUS,
            runs.c.workflow_type.in_(workflow_types),
        )
        .order_by(runs.c.task_ready_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed: list[RunRow] = []
    for run_id in (await conn.execute(candidates)).scalars().all():
        claimed.append(await lease(conn, run_id, worker_id=worker_id, lease_expires_at=lease_expires_at))
    return claimed


async def lease(
    conn: AsyncConnection, run_id: uuid.UUID, *, worker_id: str, lease_expires_at: datetime
) -> RunRow:
    """Give the run's task to `worker_id` under a new token, noting how far its history goes."""
    last_seq = await max_seq(conn, run_id)
    await update(
        conn,
        run_id,
        task_ready=False,
        task_dirty=False,
        lease_token=uuid.uuid4(),
        lease_worker_id=worker_id,
        lease_expires_at=lease_expires_at,
        lease_history_seq=last_seq,
        sticky_worker_id=worker_id,
    )
    row = await get(conn, run_id)
    assert row is not None
    return row


async def by_lease_token(conn: AsyncConnection, token: uuid.UUID) -> RunRow | None:
    query = sa.select(runs).where(runs.c.lease_token == token).with_for_update()
    row = (await conn.execute(query)).first()
    return to_row(RunRow, row) if row else None


async def earliest_ready_at(
    conn: AsyncConnection, *, namespace: str, task_queue: str, workflow_types: list[str]
) -> datetime | None:
    """When the next ready task of this queue becomes claimable (a failed task waits a backoff)."""
    query = sa.select(sa.func.min(runs.c.task_ready_at)).where(
        runs.c.namespace == namespace,
        runs.c.task_queue == task_queue,
        runs.c.task_ready.is_(True),
        runs.c.status == OPEN_STATUS,
        runs.c.workflow_type.in_(workflow_types),
    )
    value: datetime | None = (await conn.execute(query)).scalar()
    return value


async def count_leases(conn: AsyncConnection, worker_id: str) -> int:
    query = sa.select(sa.func.count()).select_from(runs).where(runs.c.lease_worker_id == worker_id)
    return int((await conn.execute(query)).scalar_one())


async def release_worker_leases(conn: AsyncConnection, worker_id: str, now: datetime) -> list[RunRow]:
    """Hand back every workflow task `worker_id` holds: each becomes ready again at once."""
    query = sa.select(runs).where(runs.c.lease_worker_id == worker_id).with_for_update(skip_locked=True)
    released = [to_row(RunRow, row) for row in (await conn.execute(query)).all()]
    for run in released:
        await update(conn, run.run_id, **released_lease(now))
    await conn.execute(
        runs.update().where(runs.c.sticky_worker_id == worker_id).values(sticky_worker_id=None)
    )
    return released


def released_lease(now: datetime) -> dict[str, Any]:
    """The column values of a run whose lease ended without a completion: ready again."""
    return {
        "lease_token": None,
        "lease_worker_id": None,
        "lease_expires_at": None,
        "lease_history_seq": None,
        "task_ready": True,
        "task_ready_at": now,
        "task_dirty": False,
    }


async def expired_leases(conn: AsyncConnection, now: datetime, limit: int) -> list[RunRow]:
    query = (
        sa.select(runs)
        .where(runs.c.lease_expires_at <= now)
        .order_by(runs.c.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [to_row(RunRow, row) for row in (await conn.execute(query)).all()]


async def past_deadline(conn: AsyncConnection, now: datetime, limit: int) -> list[RunRow]:
    query = (
        sa.select(runs)
        .where(runs.c.status == OPEN_STATUS, runs.c.run_deadline <= now)
        .order_by(runs.c.run_deadline)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [to_row(RunRow, row) for row in (await conn.execute(query)).all()]


async def earliest_deadlines(conn: AsyncConnection) -> list[datetime | None]:
    """The next lease expiry and the next run deadline, for the timekeeper's sleep."""
    lease = sa.select(sa.func.min(runs.c.lease_expires_at)).scalar_subquery()
    deadline = (
        sa.select(sa.func.min(runs.c.run_deadline)).where(runs.c.status == OPEN_STATUS).scalar_subquery()
    )
    row = (await conn.execute(sa.select(lease, deadline))).one()
    return [row[0], row[1]]


async def max_seq(conn: AsyncConnection, run_id: uuid.UUID) -> int:
    query = sa.select(sa.func.coalesce(sa.func.max(history.c.seq), 0)).where(history.c.run_id == run_id)
    return int((await conn.execute(query)).scalar_one())


async def append_event(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    seq: int,
    event_type: str,
    attributes: dict[str, Json],
    now: datetime,
) -> None:
    await conn.execute(
        history.insert().values(
            run_id=run_id, seq=seq, type=event_type, attributes=attributes, created_at=now
        )
    )


async def events(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    *,
    after_seq: int = 0,
    before_seq: int | None = None,
    limit: int | None = None,
    order: Literal["asc", "desc"] = "asc",
    types: tuple[str, ...] = (),
) -> list[HistoryEvent]:
    query = sa.select(history).where(history.c.run_id == run_id, history.c.seq > after_seq)
    if before_seq is not None:
        query = query.where(history.c.seq < before_seq)
    if types:
        query = query.where(history.c.type.in_(types))
    query = query.order_by(history.c.seq.desc() if order == "desc" else history.c.seq)
    if limit is not None:
        query = query.limit(limit)
    return [to_row(HistoryEvent, row) for row in (await conn.execute(query)).all()]


async def save_query_state(
    conn: AsyncConnection, run_id: uuid.UUID, state: dict[str, Json], event_seq: int, now: datetime
) -> None:
    values = {"state": state, "event_seq": event_seq, "updated_at": now}
    await conn.execute(query_state.delete().where(query_state.c.run_id == run_id))
    await conn.execute(query_state.insert().values(run_id=run_id, **values))


async def get_query_state(conn: AsyncConnection, run_id: uuid.UUID) -> QueryStateRow | None:
    row = (await conn.execute(sa.select(query_state).where(query_state.c.run_id == run_id))).first()
    return to_row(QueryStateRow, row) if row else None


async def has_open_children(conn: AsyncConnection, run_id: uuid.UUID) -> bool:
    query = (
        sa.select(runs.c.run_id).where(runs.c.parent_run_id == run_id, runs.c.status == OPEN_STATUS).limit(1)
    )
    return (await conn.execute(query)).first() is not None


async def orphans(conn: AsyncConnection, limit: int) -> list[RunRow]:
    """Open children whose parent has closed and whose policy is not to abandon them."""
    parent = runs.alias("parent")
    query = (
        sa.select(runs)
        .join(parent, parent.c.run_id == runs.c.parent_run_id)
        .where(
            runs.c.status == OPEN_STATUS,
            parent.c.status != OPEN_STATUS,
            sa.or_(
                runs.c.parent_close_policy == "terminate",
                sa.and_(
                    runs.c.parent_close_policy == "request_cancel",
                    ~sa.exists().where(
                        history.c.run_id == runs.c.run_id, history.c.type == "CancelRequested"
                    ),
                ),
            ),
        )
        .limit(limit)
    )
    return [to_row(RunRow, row) for row in (await conn.execute(query)).all()]
