"""Tasks as workers receive them, from a poll or handed back with a completion."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from assay_workflow.api.workflows import HistoryEventOut
from assay_workflow.domain.engine import WorkflowTask
from assay_workflow.store.rows import ActivityRow

AnyJson = object


class CachedRun(BaseModel):
    run_id: uuid.UUID
    last_seq: int = Field(ge=0)


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


class WorkflowTaskOut(BaseModel):
    task_token: uuid.UUID
    namespace: str
    workflow_id: str
    run_id: uuid.UUID
    workflow_type: str
    task_queue: str
    history: list[HistoryEventOut]
    history_from_seq: int
    attempt: int
    lease_expires_at: datetime

    @classmethod
    def of(cls, task: WorkflowTask) -> WorkflowTaskOut:
        run = task.run
        assert run.lease_expires_at is not None
        return cls(
            task_token=task.token,
            namespace=run.namespace,
            workflow_id=run.workflow_id,
            run_id=run.run_id,
            workflow_type=run.workflow_type,
            task_queue=run.task_queue,
            history=[HistoryEventOut.of(e) for e in task.history],
            history_from_seq=task.history_from_seq,
            attempt=run.task_attempt,
            lease_expires_at=run.lease_expires_at,
        )
