"""`/api/v1/queues`: what waits and what runs on each task queue of a namespace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from assay_workflow.api.deps import engine
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.queues import queue_stats
from assay_workflow.store.queues import QueueStats

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])


class QueueOut(BaseModel):
    task_queue: str
    workflow_tasks_ready: int
    workflow_tasks_leased: int
    activities_scheduled: int
    activities_running: int
    workers: int

    @classmethod
    def of(cls, stats: QueueStats) -> QueueOut:
        return cls.model_validate(stats, from_attributes=True)


class QueueList(BaseModel):
    items: list[QueueOut]


@router.get("", response_model=QueueList, summary="Task queues of a namespace, with their backlog")
async def list_queues(
    namespace: Annotated[str, Query(min_length=1, max_length=63)] = "main",
    found: Engine = Depends(engine),
) -> QueueList:
    return QueueList(items=[QueueOut.of(q) for q in await queue_stats(found, namespace)])
