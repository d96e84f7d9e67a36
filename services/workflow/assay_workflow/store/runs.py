"""Queries on runs, their history and their query state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import contains_any_case, insert_ignoring_conflict, to_row
from assay_workflow.store.rows import HistoryEvent, Json, QueryStateRow, RunRow
from assay_workflow.store.tables import OPEN_STATUS, activities, history, query_state, runs

# The statements on the hot paths are built once, with bound parameters: building a statement
# costs more CPU than sending it to the database.
_BY_ID = sa.select(runs).where(runs.c.run_id == sa.bindparam("b_run_id"))
_LATEST = (
    sa.select(runs)
    .where(
        runs.c.namespace == sa.bindparam("b_namespace"), runs.c.workflow_id == sa.bindparam("b_workflow_id")
    )
    .order_by(runs.c.run_id.desc())
    .limit(1)
)
_UPDATE = runs.update().where(runs.c.run_id == sa.bindparam("b_run_id"))
_LEASE = _UPDATE.values(
    task_ready=False,
    task_dirty=False,
    lease_token=sa.bindparam("b_token"),
    lease_worker_id=sa.bindparam("b_worker_id"),
    lease_expires_at=sa.bindparam("b_expires_at"),
    lease_history_seq=runs.c.last_seq,
    sticky_worker_id=sa.bindparam("b_worker_id"),
).returning(*runs.c)
_CLAIMABLE = (
    sa.select(runs.c.run_id)
    .where(
        runs.c.namespace == sa.bindparam("b_namespace"),
        runs.c.task_queue == sa.bindparam("b_task_queue"),
        runs.c.task_ready.is_(True),
        runs.c.task_ready_at <= sa.bindparam("b_now"),
        runs.c.status == OPEN_STATUS,
        runs.c.workflow_type.in_(sa.bindparam("b_types", expanding=True)),
    )
    .order_by(runs.c.task_ready_at)
    .limit(sa.bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)
_EARLIEST_READY = sa.select(sa.func.min(runs.c.task_ready_at)).where(
    runs.c.namespace == sa.bindparam("b_namespace"),
    runs.c.task_queue == sa.bindparam("b_task_queue"),
    runs.c.task_ready.is_(True),
    runs.c.status == OPEN_STATUS,
    runs.c.workflow_type.in_(sa.bindparam("b_types", expanding=True)),
)
_COUNT_LEASES = (
    sa.select(sa.func.count()).select_from(runs).where(runs.c.lease_worker_id == sa.bindparam("b_worker_id"))
)
_BY_LEASE_TOKEN = sa.select(runs).where(runs.c.lease_token == sa.bindparam("b_token")).with_for_update()
_BY_ACTIVITY_TOKEN = (
    sa.select(runs)
    .join(activities, activities.c.run_id == runs.c.run_id)
    .where(activities.c.lease_token == sa.bindparam("b_token"))
    .with_for_update(of=runs)
)
_APPEND = history.insert()
_HISTORY_AFTER = (
    sa.select(history)
    .where(history.c.run_id == sa.bindparam("b_run_id"), history.c.seq > sa.bindparam("b_after_seq"))
    .order_by(history.c.seq)
)


async def _one_run(conn: AsyncConnection, statement: sa.Executable, params: dict[str, Any]) -> RunRow | None:
    row = (await conn.execute(statement, params)).first()
    return to_row(RunRow, row) if row else None


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> RunRow | None:
    """Insert a run and return it; None when an open run of that workflow id exists already (the
    partial unique index decides, so two concurrent starts cannot both win)."""
    return await _one_run(conn, insert_ignoring_conflict(conn.dialect.name, runs, returning=True), values)


async def get(conn: AsyncConnection, run_id: uuid.UUID, *, for_update: bool = False) -> RunRow | None:
    return await _one_run(conn, _BY_ID.with_for_update() if for_update else _BY_ID, {"b_run_id": run_id})


async def latest(
    conn: AsyncConnection, namespace: str, workflow_id: str, *, for_update: bool = False
) -> RunRow | None:
    """The newest run of a workflow id (run ids are UUIDv7, so they sort by creation)."""
    query = _LATEST.with_for_update() if for_update else _LATEST
    return await _one_run(conn, query, {"b_namespace": namespace, "b_workflow_id": workflow_id})


async def update(conn: AsyncConnection, run_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(_UPDATE, {"b_run_id": run_id, **values})


@dataclass(frozen=True)
class RunFilter:
    """Which runs of a namespace a list shows; every given field must hold."""

    namespace: str
    status: str | None = None
    workflow_type: str | None = None
    search_attributes: dict[str, Json] = field(default_factory=dict)
    started_after: datetime | None = None
    started_before: datetime | None = None
    task_queue: str | None = None
    parent_workflow_id: str | None = None
    #: Runs whose workflow task this worker holds or last held (its sticky runs).
    worker_id: str | None = None
    #: A piece of the workflow id or type, any case.
    text: str | None = None


async def list_page(
    conn: AsyncConnection, where: RunFilter, *, before_run_id: uuid.UUID | None, limit: int
) -> list[RunRow]:
    query = sa.select(runs).where(runs.c.namespace == where.namespace)
    if where.status is not None:
        query = query.where(runs.c.status == where.status)
    if where.workflow_type is not None:
        query = query.where(runs.c.workflow_type == where.workflow_type)
    if where.started_after is not None:
        query = query.where(runs.c.created_at >= where.started_after)
    if where.started_before is not None:
        query = query.where(runs.c.created_at < where.started_before)
    if where.task_queue is not None:
        query = query.where(runs.c.task_queue == where.task_queue)
    if where.parent_workflow_id is not None:
        query = query.where(runs.c.parent_workflow_id == where.parent_workflow_id)
    if where.worker_id is not None:
        query = query.where(
            sa.or_(runs.c.lease_worker_id == where.worker_id, runs.c.sticky_worker_id == where.worker_id)
        )
    if where.text:
        query = query.where(contains_any_case([runs.c.workflow_id, runs.c.workflow_type], where.text))
    if before_run_id is not None:
        query = query.where(runs.c.run_id < before_run_id)
    for key, value in where.search_attributes.items():
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
    params = {
        "b_namespace": namespace,
        "b_task_queue": task_queue,
        "b_now": now,
        "b_types": workflow_types,
        "b_limit": limit,
    }
    run_ids = (await conn.execute(_CLAIMABLE, params)).scalars().all()
    return [
        await lease(conn, run_id, worker_id=worker_id, lease_expires_at=lease_expires_at)
        for run_id in run_ids
    ]


async def lease(
    conn: AsyncConnection, run_id: uuid.UUID, *, worker_id: str, lease_expires_at: datetime
) -> RunRow:
    """Give the run's task to `worker_id` under a new token, noting how far its history goes."""
    params = {
        "b_run_id": run_id,
        "b_token": uuid.uuid4(),
        "b_worker_id": worker_id,
        "b_expires_at": lease_expires_at,
    }
    return to_row(RunRow, (await conn.execute(_LEASE, params)).one())


async def lock_by_activity_token(conn: AsyncConnection, token: uuid.UUID) -> RunRow | None:
    """Lock the run whose activity is leased under `token`."""
    return await _one_run(conn, _BY_ACTIVITY_TOKEN, {"b_token": token})


async def by_lease_token(conn: AsyncConnection, token: uuid.UUID) -> RunRow | None:
    return await _one_run(conn, _BY_LEASE_TOKEN, {"b_token": token})


async def earliest_ready_at(
    conn: AsyncConnection, *, namespace: str, task_queue: str, workflow_types: list[str]
) -> datetime | None:
    """When the next ready task of this queue becomes claimable (a failed task waits a backoff)."""
    params = {"b_namespace": namespace, "b_task_queue": task_queue, "b_types": workflow_types}
    value: datetime | None = (await conn.execute(_EARLIEST_READY, params)).scalar()
    return value


async def count_leases(conn: AsyncConnection, worker_id: str) -> int:
    return int((await conn.execute(_COUNT_LEASES, {"b_worker_id": worker_id})).scalar_one())


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


#: The column values of a run whose workflow task no one holds.
NO_LEASE: dict[str, Any] = {
    "lease_token": None,
    "lease_worker_id": None,
    "lease_expires_at": None,
    "lease_history_seq": None,
    "task_dirty": False,
}


def released_lease(now: datetime) -> dict[str, Any]:
    """The column values of a run whose lease ended without a completion: ready again."""
    return {**NO_LEASE, "task_ready": True, "task_ready_at": now}


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


async def append_event(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    seq: int,
    event_type: str,
    attributes: dict[str, Json],
    now: datetime,
) -> None:
    values = {"run_id": run_id, "seq": seq, "type": event_type, "attributes": attributes, "created_at": now}
    await conn.execute(_APPEND, values)


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
    if before_seq is None and limit is None and order == "asc" and not types:
        found = await conn.execute(_HISTORY_AFTER, {"b_run_id": run_id, "b_after_seq": after_seq})
        return [to_row(HistoryEvent, row) for row in found.all()]
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
) -> bool:
    """Store the run's query state as of history event `event_seq`; whether the state differs
    from the one stored before (a first state does)."""
    values = {"state": state, "event_seq": event_seq, "updated_at": now}
    found = sa.select(query_state.c.state).where(query_state.c.run_id == run_id)
    stored = (await conn.execute(found)).first()
    if stored is None:
        await conn.execute(query_state.insert().values(run_id=run_id, **values))
        return True
    await conn.execute(query_state.update().where(query_state.c.run_id == run_id).values(**values))
    return bool(stored.state != state)


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


async def copy_events(
    conn: AsyncConnection,
    source_run_id: uuid.UUID,
    target_run_id: uuid.UUID,
    *,
    after_seq: int,
    before_seq: int,
) -> None:
    """Copy the source run's events between the two seqs (both excluded) to the target run,
    keeping their seq, type, attributes and time; one statement, however long the history."""
    chosen = sa.select(
        sa.literal(target_run_id, sa.Uuid).label("run_id"),
        history.c.seq,
        history.c.type,
        history.c.attributes,
        history.c.created_at,
    ).where(history.c.run_id == source_run_id, history.c.seq > after_seq, history.c.seq < before_seq)
    await conn.execute(
        history.insert().from_select(["run_id", "seq", "type", "attributes", "created_at"], chosen)
    )
