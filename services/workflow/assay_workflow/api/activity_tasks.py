"""`/api/v1/activity-tasks`: the worker side of activities (docs/workflow-protocol.md)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from assay_common.disconnects import unless_disconnected
from assay_common.problems import problems
from assay_workflow.api.deps import engine, refuse_if_all_stale
from assay_workflow.domain.activity_tasks import ActivityOutcome, ActivityTasks
from assay_workflow.domain.commands import ErrorInfo
from assay_workflow.domain.engine import Engine
from assay_workflow.store.rows import ActivityRow

router = APIRouter(prefix="/api/v1/activity-tasks", tags=["activity tasks"])
AnyJson = object


class ActivityTaskOut(BaseModel):
    task_token: uuid.UUID
    namespace: str
    workflow_id: str
    run_id: uuid.UUID
    activity_seq: int
    name: str
    input: AnyJson
    attempt: int
    heartbeat_timeout: float | None
    deadline: datetime | None = Field(description="When start-to-close runs out; null without one")

    @classmethod
    def of(cls, activity: ActivityRow) -> ActivityTaskOut:
        assert activity.lease_token is not None and activity.started_at is not None
        deadline = None
        if activity.start_to_close_timeout is not None:
            deadline = activity.started_at + timedelta(seconds=activity.start_to_close_timeout)
        return cls(
            task_token=activity.lease_token,
            namespace=activity.namespace,
            workflow_id=activity.workflow_id,
            run_id=activity.run_id,
            activity_seq=activity.activity_seq,
            name=activity.name,
            input=activity.input,
            attempt=activity.attempt,
            heartbeat_timeout=activity.heartbeat_timeout,
            deadline=deadline,
        )


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


class StatusOut(BaseModel):
    task_token: uuid.UUID
    status: Literal["ok", "stale"]


class CompleteOut(BaseModel):
    results: list[StatusOut]


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


def activity_tasks(found: Engine = Depends(engine)) -> ActivityTasks:
    return ActivityTasks(found)


@router.post(
    "/poll", response_model=PollOut, responses=problems(404, 422), summary="Claim activity tasks (long-poll)"
)
async def poll_activity_tasks(
    body: PollIn, request: Request, domain: ActivityTasks = Depends(activity_tasks)
) -> PollOut:
    # A worker that died mid-poll must not have tasks claimed on its behalf.
    tasks = await unless_disconnected(
        request.receive, domain.poll(body.worker_id, body.max_tasks, body.wait_seconds)
    )
    return PollOut(tasks=[ActivityTaskOut.of(t) for t in tasks or []])


@router.post(
    "/complete",
    response_model=CompleteOut,
    responses=problems(409, 422),
    summary="Report activity outcomes (failures are retried per the retry policy)",
)
async def complete_activity_tasks(
    body: CompleteIn, domain: ActivityTasks = Depends(activity_tasks)
) -> CompleteOut:
    outcomes = [ActivityOutcome(r.task_token, r.result, r.error) for r in body.results]
    statuses = await domain.complete(body.worker_id, outcomes)
    refuse_if_all_stale(statuses)
    return CompleteOut(
        results=[
            StatusOut(task_token=o.task_token, status=s) for o, s in zip(outcomes, statuses, strict=True)
        ]
    )


@router.post(
    "/heartbeat",
    response_model=HeartbeatOut,
    responses=problems(409, 422),
    summary="Keep running activities alive; learn whether they were cancelled",
)
async def heartbeat_activity_tasks(
    body: HeartbeatIn, domain: ActivityTasks = Depends(activity_tasks)
) -> HeartbeatOut:
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
