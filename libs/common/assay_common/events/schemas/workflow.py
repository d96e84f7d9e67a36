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


@event_type("workflow", "namespace_updated", "A namespace's description or retention was changed")
class NamespaceUpdated(EventData):
    namespace: str
    description: str
    #: Days its closed runs are kept; null: the workflow service's default.
    retention_days: int | None


class RunEvent(EventData):
    """What every workflow lifecycle event carries: which run it is about."""

    namespace: str
    workflow_id: str
    run_id: str


@event_type(
    "workflow",
    "query_state_updated",
    "A run recorded a query state that differs from its previous one (read it at `GET …/state`)",
)
class QueryStateUpdated(RunEvent):
    #: The last history event the state reflects.
    event_seq: int


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


@event_type(
    "workflow",
    "workflow_purged",
    "A closed run outlived its namespace's retention: its history, activities, timers and query "
    "state were removed, after being archived to `archive_uri` (null: not archived)",
)
class WorkflowPurged(RunEvent):
    workflow_type: str
    closed_at: datetime
    archive_uri: str | None


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


class ScheduleEvent(EventData):
    """What every schedule event carries: which schedule it is about."""

    namespace: str
    schedule_id: str


@event_type("workflow", "schedule_created", "A schedule was created")
class ScheduleCreated(ScheduleEvent):
    workflow_type: str
    expression: str
    timezone: str
    overlap_policy: str
    next_nominal_at: datetime | None


@event_type("workflow", "schedule_updated", "A schedule was changed; its next slot was computed again")
class ScheduleUpdated(ScheduleEvent):
    changed: list[str]
    next_nominal_at: datetime | None


@event_type("workflow", "schedule_paused", "A schedule was paused (its slots do not fire until resumed)")
class SchedulePaused(ScheduleEvent):
    note: str


@event_type("workflow", "schedule_resumed", "A schedule was resumed; it fires from its next slot after now")
class ScheduleResumed(ScheduleEvent):
    note: str
    next_nominal_at: datetime | None


@event_type("workflow", "schedule_deleted", "A schedule was deleted (the runs it started go on)")
class ScheduleDeleted(ScheduleEvent):
    pass


@event_type(
    "workflow",
    "schedule_fired",
    "A schedule fired: a slot of its spec, a trigger or a backfilled slot, and what became of it "
    "(`started`, `skipped` or `buffered` by the overlap policy, or `missed`: past the catch-up window)",
)
class ScheduleFired(ScheduleEvent):
    trigger: str
    nominal_at: datetime
    fired_at: datetime
    outcome: str
    workflow_id: str | None
    run_id: str | None
    #: How many slots this record stands for (more than one only for `missed`).
    slots: int = 1
