"""Queries of retention: claiming closed runs due for purging, reading what their archive holds,
purging them under their claim, and telling which runs were purged."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import to_row
from assay_workflow.store.rows import RunRow, TimerRow
from assay_workflow.store.tables import (
    OPEN_STATUS,
    activities,
    history,
    namespaces,
    query_state,
    runs,
    timers,
)

#: Every table that holds rows of a run besides the run itself (signals are history events).
RUN_DATA = (history, activities, timers, query_state)


@dataclass(frozen=True)
class PurgeMark:
    """A purged run: when, and where its archive is (None: it was purged without one)."""

    run_id: uuid.UUID
    purged_at: datetime
    archive_uri: str | None


@dataclass(frozen=True)
class ClaimedRun:
    run: RunRow
    #: The uploads of its archive that failed so far.
    archive_failures: int


async def claim_due(
    conn: AsyncConnection,
    *,
    namespace: str,
    closed_before: datetime,
    now: datetime,
    token: uuid.UUID,
    claim_expires_at: datetime,
    limit: int,
) -> list[ClaimedRun]:
    """Claim under `token`, until `claim_expires_at`, up to `limit` runs of the namespace closed
    before `closed_before` and not purged, oldest first; runs another replica holds (its claim
    has not expired, or it is choosing them right now) and runs waiting to retry are skipped."""
    due = (
        sa.select(runs)
        .where(
            runs.c.namespace == namespace,
            runs.c.status != OPEN_STATUS,
            runs.c.closed_at < closed_before,
            runs.c.purged_at.is_(None),
            sa.or_(runs.c.retention_claim_expires_at.is_(None), runs.c.retention_claim_expires_at <= now),
        )
        .order_by(runs.c.closed_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = [
        ClaimedRun(to_row(RunRow, row), row.archive_failures) for row in (await conn.execute(due)).all()
    ]
    if claimed:
        await conn.execute(
            runs.update()
            .where(runs.c.run_id.in_([c.run.run_id for c in claimed]))
            .values(retention_claim_token=token, retention_claim_expires_at=claim_expires_at)
        )
    return claimed


async def timers_of_run(conn: AsyncConnection, run_id: uuid.UUID) -> list[TimerRow]:
    query = sa.select(timers).where(timers.c.run_id == run_id).order_by(timers.c.timer_seq)
    return [to_row(TimerRow, row) for row in (await conn.execute(query)).all()]


async def purge(
    conn: AsyncConnection, run_id: uuid.UUID, *, token: uuid.UUID, now: datetime, archive_uri: str | None
) -> RunRow | None:
    """Delete the run's history, activities, timers and query state and mark it purged, if it is
    still claimed under `token` (fencing: a replica whose claim was taken over purges nothing);
    the run as it was, or None when the claim is not this one's any more."""
    held = sa.select(runs).where(
        runs.c.run_id == run_id, runs.c.retention_claim_token == token, runs.c.purged_at.is_(None)
    )
    row = (await conn.execute(held.with_for_update())).first()
    if row is None:
        return None
    for table in RUN_DATA:
        await conn.execute(table.delete().where(table.c.run_id == run_id))
    await conn.execute(
        runs.update()
        .where(runs.c.run_id == run_id)
        .values(
            purged_at=now,
            archive_uri=archive_uri,
            retention_claim_token=None,
            retention_claim_expires_at=None,
        )
    )
    return to_row(RunRow, row)


async def release(
    conn: AsyncConnection, run_ids: Sequence[uuid.UUID], *, token: uuid.UUID, retry_at: datetime | None
) -> None:
    """Give back the runs still claimed under `token`: free for anyone from `retry_at` (None: at
    once)."""
    await conn.execute(
        runs.update()
        .where(runs.c.run_id.in_(run_ids), runs.c.retention_claim_token == token)
        .values(retention_claim_token=None, retention_claim_expires_at=retry_at)
    )


async def fail_archive(
    conn: AsyncConnection, run_id: uuid.UUID, *, token: uuid.UUID, failures: int, retry_at: datetime
) -> None:
    """Record that the run's uploads failed `failures` times and give it back, free from `retry_at`."""
    await conn.execute(
        runs.update()
        .where(runs.c.run_id == run_id, runs.c.retention_claim_token == token)
        .values(retention_claim_token=None, retention_claim_expires_at=retry_at, archive_failures=failures)
    )


async def purge_marks(conn: AsyncConnection, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PurgeMark]:
    """The purged runs among `run_ids`."""
    query = sa.select(runs.c.run_id, runs.c.purged_at, runs.c.archive_uri).where(
        runs.c.run_id.in_(run_ids), runs.c.purged_at.is_not(None)
    )
    found = (await conn.execute(query)).all()
    return {row.run_id: PurgeMark(row.run_id, row.purged_at, row.archive_uri) for row in found}


async def namespaces_gone(conn: AsyncConnection) -> list[str]:
    """Namespaces that were deleted while closed runs of theirs wait for their purge."""
    waiting = (
        sa.select(runs.c.namespace)
        .where(runs.c.purged_at.is_(None), runs.c.closed_at.is_not(None))
        .where(~sa.exists().where(namespaces.c.name == runs.c.namespace))
        .distinct()
        .order_by(runs.c.namespace)
    )
    return list((await conn.execute(waiting)).scalars())
