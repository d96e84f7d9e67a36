"""The commands a workflow task completes with (docs/workflow-protocol.md, "Commands").

Pydantic models, so that a malformed command fails validation before anything is applied.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Json = Any


class ErrorInfo(BaseModel):
    type: str = Field(default="Error", max_length=255)
    message: str = Field(default="", max_length=10_000)
    non_retryable: bool = False


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=3, ge=1, le=1000)
    initial_interval: float = Field(default=1.0, ge=0, le=86_400)
    backoff_coefficient: float = Field(default=2.0, ge=1, le=100)
    max_interval: float = Field(default=100.0, ge=0, le=86_400)
    non_retryable_errors: list[str] = Field(default_factory=list)


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


Seq = Annotated[int, Field(ge=1)]
Timeout = Annotated[float, Field(gt=0, le=31_536_000)]


class ScheduleActivity(Command):
    type: Literal["schedule_activity"]
    activity_seq: Seq
    name: str = Field(min_length=1, max_length=255)
    input: Json = None
    task_queue: str | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    schedule_to_start_timeout: Timeout | None = None
    start_to_close_timeout: Timeout | None = None
    heartbeat_timeout: Timeout | None = None


class RequestCancelActivity(Command):
    type: Literal["request_cancel_activity"]
    activity_seq: Seq


class StartTimer(Command):
    type: Literal["start_timer"]
    timer_seq: Seq
    seconds: float = Field(ge=0, le=31_536_000)


class CancelTimer(Command):
    type: Literal["cancel_timer"]
    timer_seq: Seq


class RecordSideEffect(Command):
    type: Literal["record_side_effect"]
    side_effect_seq: Seq
    value: Json = None


class StartChildWorkflow(Command):
    type: Literal["start_child_workflow"]
    child_seq: Seq
    workflow_id: str = Field(min_length=1, max_length=255)
    workflow_type: str = Field(min_length=1, max_length=255)
    input: Json = None
    task_queue: str | None = None
    parent_close_policy: Literal["terminate", "request_cancel", "abandon"] = "terminate"


class UpsertSearchAttributes(Command):
    type: Literal["upsert_search_attributes"]
    attributes: dict[str, Json]


class RecordQueryState(Command):
    type: Literal["record_query_state"]
    state: dict[str, Json]


class CompleteWorkflow(Command):
    type: Literal["complete_workflow"]
    result: Json = None


class FailWorkflow(Command):
    type: Literal["fail_workflow"]
    error: ErrorInfo


class CancelWorkflow(Command):
    type: Literal["cancel_workflow"]


class ContinueAsNew(Command):
    type: Literal["continue_as_new"]
    input: Json = None


AnyCommand = Annotated[
    ScheduleActivity
    | RequestCancelActivity
    | StartTimer
    | CancelTimer
    | RecordSideEffect
    | StartChildWorkflow
    | UpsertSearchAttributes
    | RecordQueryState
    | CompleteWorkflow
    | FailWorkflow
    | CancelWorkflow
    | ContinueAsNew,
    Field(discriminator="type"),
]

TERMINAL_COMMANDS = (CompleteWorkflow, FailWorkflow, CancelWorkflow, ContinueAsNew)
