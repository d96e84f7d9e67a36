"""Plain rows of the workflow tables, as the domain sees them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Json = Any


@dataclass(frozen=True)
class RunRow:
    run_id: uuid.UUID
    namespace: str
    workflow_id: str
    workflow_type: str
    task_queue: str
    status: str
    input: Json
    result: Json
    error: Json
    search_attributes: dict[str, Json]
    parent_workflow_id: str | None
    parent_run_id: uuid.UUID | None
    parent_child_seq: int | None
    parent_close_policy: str | None
    continued_from_run_id: uuid.UUID | None
    run_timeout_seconds: float | None
    run_deadline: datetime | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    task_ready: bool
    task_ready_at: datetime | None
    lease_token: uuid.UUID | None
    lease_worker_id: str | None
    lease_expires_at: datetime | None
    lease_history_seq: int | None
    task_dirty: bool
    sticky_worker_id: str | None
    task_attempt: int
    last_seq: int

    @property
    def is_open(self) -> bool:
        return self.status == "RUNNING"


@dataclass(frozen=True)
class HistoryEvent:
    run_id: uuid.UUID
    seq: int
    type: str
    attributes: dict[str, Json]
    created_at: datetime


@dataclass(frozen=True)
class ActivityRow:
    run_id: uuid.UUID
    activity_seq: int
    namespace: str
    workflow_id: str
    name: str
    task_queue: str
    input: Json
    status: str
    attempt: int
    max_attempts: int
    initial_interval: float
    backoff_coefficient: float
    max_interval: float
    non_retryable_errors: list[str]
    schedule_to_start_timeout: float | None
    start_to_close_timeout: float | None
    heartbeat_timeout: float | None
    scheduled_at: datetime
    started_at: datetime | None
    timeout_at: datetime | None
    lease_token: uuid.UUID | None
    worker_id: str | None
    last_heartbeat: datetime | None
    heartbeat_details: Json
    cancel_requested: bool
    result: Json
    error: Json


@dataclass(frozen=True)
class TimerRow:
    run_id: uuid.UUID
    timer_seq: int
    fire_at: datetime
    status: str


@dataclass(frozen=True)
class WorkerRow:
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


@dataclass(frozen=True)
class QueryStateRow:
    run_id: uuid.UUID
    state: dict[str, Json]
    event_seq: int
    updated_at: datetime
