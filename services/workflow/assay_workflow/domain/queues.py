"""Task queues: they exist while something uses them (runs, activities or workers)."""

from __future__ import annotations

from assay_workflow.domain.engine import Engine
from assay_workflow.store import queues as queue_store
from assay_workflow.store.queues import QueueStats


async def queue_stats(engine: Engine, namespace: str) -> list[QueueStats]:
    async with engine.db.read() as conn:
        return await queue_store.stats(conn, namespace)
