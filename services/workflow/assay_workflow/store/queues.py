"""Per-queue counts of waiting and running work, for operators."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_workflow.store.tables import OPEN_STATUS, activities, runs, workers


@dataclass
class QueueStats:
    task_queue: str
    workflow_tasks_ready: int = 0
    workflow_tasks_leased: int = 0
    activities_scheduled: int = 0
    activities_running: int = 0
    workers: int = 0


async def stats(conn: AsyncConnection, namespace: str) -> list[QueueStats]:
    by_queue: dict[str, QueueStats] = {}

    def queue(name: str) -> QueueStats:
        return by_queue.setdefault(name, QueueStats(name))

    task_counts = (
        sa.select(
            runs.c.task_queue,
            sa.func.sum(sa.case((runs.c.task_ready.is_(True), 1), else_=0)),
            sa.func.sum(sa.case((runs.c.lease_token.is_not(None), 1), else_=0)),
        )
        .where(runs.c.namespace == namespace, runs.c.status == OPEN_STATUS)
        .group_by(runs.c.task_queue)
    )
    for name, ready, leased in (await conn.execute(task_counts)).all():
        queue(name).workflow_tasks_ready = int(ready or 0)
        queue(name).workflow_tasks_leased = int(leased or 0)
    activity_counts = (
        sa.select(activities.c.task_queue, activities.c.status, sa.func.count())
        .where(activities.c.namespace == namespace, activities.c.status.in_(("SCHEDULED", "RUNNING")))
        .group_by(activities.c.task_queue, activities.c.status)
    )
    for name, status, count in (await conn.execute(activity_counts)).all():
        if status == "SCHEDULED":
            queue(name).activities_scheduled = int(count)
        else:
            queue(name).activities_running = int(count)
    worker_counts = (
        sa.select(workers.c.task_queue, sa.func.count())
        .where(workers.c.namespace == namespace)
        .group_by(workers.c.task_queue)
    )
    for name, count in (await conn.execute(worker_counts)).all():
        queue(name).workers = int(count)
    return sorted(by_queue.values(), key=lambda q: q.task_queue)
