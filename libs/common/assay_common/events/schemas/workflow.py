"""Events of the workflow service (subjects `assay.workflow.<namespace>.<name>`)."""

from __future__ import annotations

from datetime import datetime

from assay_common.events.envelope import EventData, event_type


@event_type("workflow", "namespace_created", "A namespace was created")
class NamespaceCreated(EventData):
    namespace: str
    description: str
    created_at: datetime


@event_type("workflow", "namespace_deleted", "A namespace was deleted")
class NamespaceDeleted(EventData):
    namespace: str


class RunEvent(EventData):
    """What every workflow lifecycle event carries: which run it is about."""

    namespace: str
    workflow_id: str
    run_id: str


@event_type("workflow", "workflow_started", "A workflow run started")
class WorkflowStarted(RunEvent):
    workflow_type: str
    task_queue: str
    parent_workflow_id: str | None = None
    continued_from_run_id: str | None = None


@event_type("workflow", "workflow_completed", "A workflow run completed")
class WorkflowCompleted(RunEvent):
    workflow_type: str


@event_type("workflow", "workflow_failed", "A workflow run failed")
class WorkflowFailed(RunEvent):
    workflow_type: str
    message: str


@event_type("workflow", "workflow_cancelled", "A workflow run was cancelled")
class WorkflowCancelled(RunEvent):
    workflow_type: str


@event_type("workflow", "workflow_terminated", "A workflow run was terminated by an operator")
class WorkflowTerminated(RunEvent):
    workflow_type: str
    reason: str


@event_type("workflow", "workflow_timed_out", "A workflow run reached its run timeout")
class WorkflowTimedOut(RunEvent):
    workflow_type: str


@event_type("workflow", "workflow_continued_as_new", "A workflow run closed and continued as a new run")
class WorkflowContinuedAsNew(RunEvent):
    workflow_type: str
    new_run_id: str


@event_type(
    "workflow",
    "workflow_retried",
    "An operator retried a failed run from its latest failed activity; `run_id` is the new run",
)
class WorkflowRetried(RunEvent):
    failed_run_id: str
    activity_seq: int
    requested_by: str


@event_type("workflow", "signal_received", "A workflow run received a signal")
class SignalReceived(RunEvent):
    signal: str


@event_type("workflow", "activity_scheduled", "A workflow run scheduled an activity")
class ActivityScheduled(RunEvent):
    activity_seq: int
    name: str
    task_queue: str


@event_type("workflow", "activity_completed", "An activity completed")
class ActivityCompleted(RunEvent):
    activity_seq: int
    name: str
    attempt: int


@event_type("workflow", "activity_failed", "An activity failed for good (no attempts left)")
class ActivityFailed(RunEvent):
    activity_seq: int
    name: str
    attempt: int
    error_type: str
    message: str


@event_type("workflow", "activity_retried", "An attempt of an activity failed or timed out; another follows")
class ActivityRetried(RunEvent):
    activity_seq: int
    name: str
    attempt: int
    next_attempt_at: datetime
    reason: str


@event_type("workflow", "activity_timed_out", "An activity timed out for good (no attempts left)")
class ActivityTimedOut(RunEvent):
    activity_seq: int
    name: str
    attempt: int
    timeout: str


@event_type("workflow", "timer_fired", "A durable timer of a workflow run fired")
class TimerFired(RunEvent):
    timer_seq: int
    fire_at: datetime
    fired_at: datetime
