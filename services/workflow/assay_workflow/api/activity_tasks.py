"""`/api/v1/activity-tasks`: the worker side of activities (docs/workflow-protocol.md)."""

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
from assay_workflow.domain.activity_tasks import ActivityOutcome, ActivityTasks
from assay_workflow.domain.commands import ErrorInfo
from assay_workflow.domain.engine import Engine

router = APIRouter(prefix="/api/v1/activity-tasks", tags=["activity tasks"])
AnyJson = object


class PollIn(BaseModel):
    worker_id: str = Field(min_length=1, max_length=36)
    max_tasks: int = Field(default=1, ge=1, le=100)
    wait_seconds: float = Field(default=0, ge=0, le=60)


class PollOut(BaseModel):
    tasks: list[ActivityTaskOut]


class ResultIn(BaseModel):
    task_token: uuid.UUID
    result: AnyJson = None
    error: ErrorInfo | None = None


class CompleteIn(BaseModel):
    worker_id: str = Field(min_length=1, max_length=36)
    results: list[ResultIn] = Field(min_length=1, max_length=100)
    max_workflow_tasks: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Hand back up to this many workflow tasks these outcomes make ready (for runs"
        " of workflow types this worker registered), so that it need not poll for them",
    )
    cached: list[CachedRun] = Field(
        default_factory=list,
        max_length=10_000,
        description="Runs whose history the worker holds: their handed-back tasks carry only new events",
    )


class StatusOut(BaseModel):
    task_token: uuid.UUID
    status: Literal["ok", "stale"]


class CompleteOut(BaseModel):
    results: list[StatusOut]
    workflow_tasks: list[WorkflowTaskOut] = Field(default_factory=list)


class HeartbeatItem(BaseModel):
    task_token: uuid.UUID
    details: AnyJson = None


class HeartbeatIn(BaseModel):
    worker_id: str = Field(min_length=1, max_length=36)
    heartbeats: list[HeartbeatItem] = Field(min_length=1, max_length=100)


class HeartbeatStatus(StatusOut):
    cancel_requested: bool


class HeartbeatOut(BaseModel):
    results: list[HeartbeatStatus]


async def activity_tasks(found: Engine = Depends(engine)) -> ActivityTasks:
    return ActivityTasks(found)


@router.post(
    "/poll", response_model=PollOut, responses=problems(404, 422), summary="Claim activity tasks (long-poll)"
)
async def poll_activity_tasks(
    body: PollIn,
    request: Request,
    domain: ActivityTasks = Depends(activity_tasks),
    caller: WorkflowAccess = Depends(access),
) -> PollOut:
    await caller.require_worker(body.worker_id)
    # A worker that died mid-poll must not have tasks claimed on its behalf.
    tasks = await unless_disconnected(
        request.receive, domain.poll(body.worker_id, body.max_tasks, body.wait_seconds)
    )
    return PollOut(tasks=[ActivityTaskOut.of(t) for t in tasks or []])


@router.post(
    "/complete",
    response_model=CompleteOut,
    responses=problems(404, 409, 422),
    summary="Report activity outcomes (failures are retried per the retry policy)",
)
async def complete_activity_tasks(
    body: CompleteIn,
    domain: ActivityTasks = Depends(activity_tasks),
    caller: WorkflowAccess = Depends(access),
) -> CompleteOut:
    await caller.require_worker(body.worker_id)
    outcomes = [ActivityOutcome(r.task_token, r.result, r.error) for r in body.results]
    completed = await domain.complete(
        body.worker_id,
        outcomes,
        max_workflow_tasks=body.max_workflow_tasks,
        cached={c.run_id: c.last_seq for c in body.cached},
    )
    refuse_if_all_stale(completed.statuses)
    return CompleteOut(
        results=[
            StatusOut(task_token=o.task_token, status=s)
            for o, s in zip(outcomes, completed.statuses, strict=True)
        ],
        workflow_tasks=[WorkflowTaskOut.of(task) for task in completed.workflow_tasks],
    )


@router.post(
    "/heartbeat",
    response_model=HeartbeatOut,
    responses=problems(404, 409, 422),
    summary="Keep running activities alive; learn whether they were cancelled",
)
async def heartbeat_activity_tasks(
    body: HeartbeatIn,
    domain: ActivityTasks = Depends(activity_tasks),
    caller: WorkflowAccess = Depends(access),
) -> HeartbeatOut:
    await caller.require_worker(body.worker_id)
    tokens = [item.task_token for item in body.heartbeats]
    outcomes = await domain.heartbeat(
        body.worker_id, [(item.task_token, item.details) for item in body.heartbeats]
    )
    refuse_if_all_stale([outcome.status for outcome in outcomes])
    return HeartbeatOut(
        results=[
            HeartbeatStatus(
                task_token=token, status=outcome.status, cancel_requested=outcome.cancel_requested
            )
            for token, outcome in zip(tokens, outcomes, strict=True)
        ]
    )
