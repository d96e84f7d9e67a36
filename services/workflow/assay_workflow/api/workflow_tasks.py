"""`/api/v1/workflow-tasks`: the worker side of workflow tasks (docs/workflow-protocol.md)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from assay_common.disconnects import unless_disconnected
from assay_common.problems import problems
from assay_workflow.api.access import WorkflowAccess, access
from assay_workflow.api.deps import engine, refuse_if_all_stale
from assay_workflow.api.tasks import ActivityTaskOut, CachedRun, WorkflowTaskOut
from assay_workflow.domain.commands import AnyCommand
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.workflow_tasks import Completion, TaskFailure, WorkflowTasks

router = APIRouter(prefix="/api/v1/workflow-tasks", tags=["workflow tasks"])


class PollIn(BaseModel):
    worker_id: str = Field(min_length=1, max_length=36)
    max_tasks: int = Field(default=1, ge=1, le=100)
    wait_seconds: float = Field(default=0, ge=0, le=60)
    cached: list[CachedRun] = Field(default_factory=list, max_length=10_000)


class PollOut(BaseModel):
    tasks: list[WorkflowTaskOut]


class CompletionIn(BaseModel):
    task_token: uuid.UUID
    commands: list[AnyCommand] = Field(default_factory=list, max_length=10_000)


class CompleteIn(BaseModel):
    worker_id: str = Field(min_length=1, max_length=36)
    completions: list[CompletionIn] = Field(min_length=1, max_length=100)


class CompletionOut(BaseModel):
    task_token: uuid.UUID
    status: Literal["ok", "stale", "nondeterminism"]
    next_task: WorkflowTaskOut | None = None
    activity_tasks: list[ActivityTaskOut] = Field(default_factory=list)


class CompleteOut(BaseModel):
    results: list[CompletionOut]


class FailureIn(BaseModel):
    task_token: uuid.UUID
    kind: Literal["nondeterminism", "error"] = "error"
    message: str = Field(default="", max_length=10_000)


class FailIn(BaseModel):
    worker_id: str = Field(min_length=1, max_length=36)
    failures: list[FailureIn] = Field(min_length=1, max_length=100)


class FailureOut(BaseModel):
    task_token: uuid.UUID
    status: Literal["ok", "stale"]


class FailOut(BaseModel):
    results: list[FailureOut]


async def workflow_tasks(found: Engine = Depends(engine)) -> WorkflowTasks:
    return WorkflowTasks(found)


@router.post(
    "/poll", response_model=PollOut, responses=problems(404, 422), summary="Claim workflow tasks (long-poll)"
)
async def poll_workflow_tasks(
    body: PollIn,
    request: Request,
    domain: WorkflowTasks = Depends(workflow_tasks),
    caller: WorkflowAccess = Depends(access),
) -> PollOut:
    await caller.require_worker(body.worker_id)
    cached = {c.run_id: c.last_seq for c in body.cached}
    # A worker that died mid-poll must not have tasks claimed on its behalf.
    tasks = await unless_disconnected(
        request.receive, domain.poll(body.worker_id, body.max_tasks, body.wait_seconds, cached)
    )
    return PollOut(tasks=[WorkflowTaskOut.of(t) for t in tasks or []])


@router.post(
    "/complete",
    response_model=CompleteOut,
    responses=problems(404, 409, 422),
    summary="Complete workflow tasks with their commands",
)
async def complete_workflow_tasks(
    body: CompleteIn,
    domain: WorkflowTasks = Depends(workflow_tasks),
    caller: WorkflowAccess = Depends(access),
) -> CompleteOut:
    await caller.require_worker(body.worker_id)
    completions = [Completion(c.task_token, list(c.commands)) for c in body.completions]
    results = await domain.complete(body.worker_id, completions)
    refuse_if_all_stale([r.status for r in results])
    return CompleteOut(
        results=[
            CompletionOut(
                task_token=r.task_token,
                status=r.status,
                next_task=WorkflowTaskOut.of(r.next_task) if r.next_task else None,
                activity_tasks=[ActivityTaskOut.of(a) for a in r.activity_tasks],
            )
            for r in results
        ]
    )


@router.post(
    "/fail", response_model=FailOut, responses=problems(404, 409, 422), summary="Fail workflow tasks"
)
async def fail_workflow_tasks(
    body: FailIn, domain: WorkflowTasks = Depends(workflow_tasks), caller: WorkflowAccess = Depends(access)
) -> FailOut:
    await caller.require_worker(body.worker_id)
    failures = [TaskFailure(f.task_token, f.kind, f.message) for f in body.failures]
    statuses = await domain.fail(body.worker_id, failures)
    refuse_if_all_stale(statuses)
    return FailOut(
        results=[
            FailureOut(task_token=f.task_token, status=s) for f, s in zip(failures, statuses, strict=True)
        ]
    )
