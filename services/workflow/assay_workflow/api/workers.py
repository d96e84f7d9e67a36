"""`/api/v1/workers`: register workers, keep them alive, list and remove them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from assay_common.problems import problems
from assay_workflow.api.access import WorkflowAccess, access
from assay_workflow.api.deps import engine
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.workers import Registration, Workers
from assay_workflow.store.rows import WorkerRow

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])

WorkerId = Annotated[str, Path(min_length=1, max_length=36)]
Name = Annotated[str, Field(min_length=1, max_length=255)]


class WorkerIn(BaseModel):
    identity: str = Field(default="worker", min_length=1, max_length=255)
    namespace: str = Field(default="main", min_length=1, max_length=63)
    task_queue: str = Field(default="main", min_length=1, max_length=100)
    workflow_types: list[Name] = Field(default_factory=list, max_length=1000)
    activity_names: list[Name] = Field(default_factory=list, max_length=1000)
    max_concurrent_workflow_tasks: int = Field(default=10, ge=1, le=10_000)
    max_concurrent_activities: int = Field(default=20, ge=1, le=10_000)


class Registered(BaseModel):
    worker_id: str


class WorkerOut(BaseModel):
    worker_id: str
    namespace: str
    identity: str
    task_queue: str
    workflow_types: list[str]
    activity_names: list[str]
    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int
    last_heartbeat: datetime
    registered_at: datetime

    @classmethod
    def of(cls, row: WorkerRow) -> WorkerOut:
        return cls.model_validate(row, from_attributes=True)


class WorkerPage(BaseModel):
    items: list[WorkerOut]
    next_cursor: str | None


async def workers(found: Engine = Depends(engine)) -> Workers:
    return Workers(found)


@router.post(
    "", status_code=201, response_model=Registered, responses=problems(404, 422), summary="Register a worker"
)
async def register_worker(
    body: WorkerIn, domain: Workers = Depends(workers), caller: WorkflowAccess = Depends(access)
) -> Registered:
    await caller.require_body(body)
    row = await domain.register(Registration(**body.model_dump()))
    return Registered(worker_id=row.worker_id)


@router.post(
    "/{worker_id}/heartbeat",
    status_code=204,
    responses=problems(404),
    summary="Tell the engine the worker lives",
)
async def worker_heartbeat(
    worker_id: WorkerId, domain: Workers = Depends(workers), caller: WorkflowAccess = Depends(access)
) -> None:
    await caller.require_worker(worker_id)
    await domain.heartbeat(worker_id)


@router.delete(
    "/{worker_id}",
    status_code=204,
    responses=problems(404),
    summary="Remove a worker; its tasks are released",
)
async def delete_worker(
    worker_id: WorkerId, domain: Workers = Depends(workers), caller: WorkflowAccess = Depends(access)
) -> None:
    await caller.require_worker(worker_id)
    await domain.delete(worker_id)


@router.get("", response_model=WorkerPage, summary="List the workers of a namespace")
async def list_workers(
    namespace: Annotated[str, Query(min_length=1, max_length=63)] = "main",
    cursor: Annotated[str | None, Query(description="The `next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    domain: Workers = Depends(workers),
) -> WorkerPage:
    rows = await domain.list(namespace, after=cursor, limit=limit + 1)
    page = rows[:limit]
    return WorkerPage(
        items=[WorkerOut.of(r) for r in page], next_cursor=page[-1].worker_id if len(rows) > limit else None
    )
