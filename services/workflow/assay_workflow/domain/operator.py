"""What an operator does to a workflow besides start, signal, cancel and terminate: continue its
open run as new, or retry its failed run from the activity whose failure ended it.

A retry never rewrites history: the failed run stays FAILED and a new run of the same workflow id
takes over, its history a copy of the failed run's up to the failed activity's `ActivityFailed`,
then `ActivityRetryRequested`. The activity runs again from attempt 1; when it completes, the
workflow's code replays the new history and goes on from there (like Temporal's reset).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime

from assay_common.db import uuid7
from assay_common.events.schemas import workflow as events
from assay_workflow.domain.activity_tasks import schedule_to_start_deadline
from assay_workflow.domain.engine import CHILD_OUTCOMES, Engine, RunScope, Work, activity_task_topic, find_run
from assay_workflow.domain.errors import WorkflowNotRetryable
from assay_workflow.domain.workflow_tasks import continue_as_new
from assay_workflow.domain.workflows import open_run, start_run
from assay_workflow.store import activities as activity_store
from assay_workflow.store import retention as retention_store
from assay_workflow.store import runs as run_store
from assay_workflow.store.rows import HistoryEvent, Json, RunRow

#: The history events that end an activity.
ACTIVITY_OUTCOMES = frozenset(
    {"ActivityCompleted", "ActivityFailed", "ActivityTimedOut", "ActivityCancelled"}
)
#: The history events that end a timer, and the status each leaves its row in.
TIMER_OUTCOMES = {"TimerFired": "FIRED", "TimerCancelled": "CANCELLED"}


@dataclass(frozen=True)
class KeepInput:
    """Continue as new with the closing run's own input."""


KEEP_INPUT = KeepInput()


@dataclass(frozen=True)
class Retried:
    """The run a retry started, the run that failed, and the activity that runs again."""

    run: RunRow
    failed_run_id: uuid.UUID
    activity_seq: int


class Operator:
    """The operator actions on a workflow id, each in one unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def continue_as_new(
        self, namespace: str, workflow_id: str, run_id: uuid.UUID | None, input: Json | KeepInput
    ) -> RunRow:
        """Close the open run CONTINUED_AS_NEW, as its own `continue_as_new` command would, and
        start its successor with `input` (or the closing run's input)."""
        async with self.engine.work() as work:
            scope = await open_run(work, namespace, workflow_id, run_id)
            new_input = scope.run.input if isinstance(input, KeepInput) else input
            successor = await continue_as_new(scope, new_input)
        return successor.run

    async def retry(
        self, namespace: str, workflow_id: str, run_id: uuid.UUID | None, requested_by: str, reason: str
    ) -> Retried:
        """Start a new run from the failed run's history up to its last activity failure, and run
        that activity again. Only the latest run of the id, FAILED by an activity, not a child."""
        async with self.engine.work() as work:
            failed = (await work.lock_workflow(namespace, workflow_id, None)).run
            await check_retryable(work, failed, run_id)
            history = await run_store.events(work.conn, failed.run_id)
            boundary = next((e for e in reversed(history) if e.type == "ActivityFailed"), None)
            if boundary is None:
                raise WorkflowNotRetryable(
                    f"workflow {workflow_id!r} did not fail because of an activity; start a new run instead"
                )
            kept = [event for event in history if event.seq < boundary.seq]
            check_children_closed(workflow_id, kept)
            scope = await start_run(
                work,
                run_id=uuid7(),
                namespace=failed.namespace,
                workflow_id=failed.workflow_id,
                workflow_type=failed.workflow_type,
                task_queue=failed.task_queue,
                input=failed.input,
                search_attributes=search_attributes_at(kept),
                run_timeout_seconds=failed.run_timeout_seconds,
                continued_from_run_id=failed.run_id,
                parent=None,
            )
            # The new run has its own WorkflowStarted (seq 1); the rest is the failed run's.
            await run_store.copy_events(
                work.conn, failed.run_id, scope.run.run_id, after_seq=scope.last_seq, before_seq=boundary.seq
            )
            scope.next_seq = boundary.seq
            await restore_activities(scope, failed.run_id, kept)
            await restore_timers(scope, kept)
            activity_seq = int(boundary.attributes["activity_seq"])
            await scope.append(
                "ActivityRetryRequested",
                {
                    "activity_seq": activity_seq,
                    "name": activity_names(kept)[activity_seq],
                    "failed_run_id": str(failed.run_id),
                    "requested_by": requested_by,
                    "reason": reason,
                },
            )
            await scope.emit(
                events.WorkflowRetried(
                    **scope.ids(),
                    failed_run_id=str(failed.run_id),
                    activity_seq=activity_seq,
                    requested_by=requested_by,
                )
            )
        return Retried(scope.run, failed.run_id, activity_seq)


async def check_retryable(work: Work, locked: RunRow, run_id: uuid.UUID | None) -> None:
    """Refuse unless the locked run is the id's latest run (and the one asked for), FAILED and
    not a child."""
    wid = locked.workflow_id
    # Read again under the lock: a concurrent retry may have committed a newer run meanwhile.
    latest = await run_store.latest(work.conn, locked.namespace, wid) or locked
    if run_id is not None and run_id != latest.run_id:
        await find_run(work.conn, locked.namespace, wid, run_id)  # 404 when there is no such run
        raise WorkflowNotRetryable(
            f"run {run_id} is not the latest run of workflow {wid!r} ({latest.run_id}); "
            "only the latest run can be retried"
        )
    if latest.status != "FAILED":
        raise WorkflowNotRetryable(
            f"the latest run of workflow {wid!r} is {latest.status}; only a FAILED run can be retried"
        )
    if latest.run_id != locked.run_id:
        raise WorkflowNotRetryable(f"workflow {wid!r} has a newer run ({latest.run_id}); try again")
    if await retention_store.purge_marks(work.conn, [locked.run_id]):
        raise WorkflowNotRetryable(
            f"the history of workflow {wid!r}'s failed run was purged (it was past its namespace's "
            "retention); start a new run instead"
        )
    if locked.parent_run_id is not None:
        raise WorkflowNotRetryable(
            f"workflow {wid!r} is a child of {locked.parent_workflow_id!r}, which has been told of "
            "its failure already; retry the parent instead"
        )


def check_children_closed(workflow_id: str, kept: list[HistoryEvent]) -> None:
    """A child open at the failure was closed by its parent-close policy, or, abandoned, reports
    to the failed run: either way a new run would wait for an outcome that never reaches it."""
    outcomes = set(CHILD_OUTCOMES.values())
    started = {int(e.attributes["child_seq"]) for e in kept if e.type == "ChildWorkflowStarted"}
    closed = {int(e.attributes["child_seq"]) for e in kept if e.type in outcomes}
    if started - closed:
        raise WorkflowNotRetryable(
            f"workflow {workflow_id!r} had child workflow(s) {sorted(started - closed)} open when the "
            "activity failed; their outcome cannot reach a new run, so it cannot go on from there"
        )


def activity_names(kept: list[HistoryEvent]) -> dict[int, str]:
    return {
        int(e.attributes["activity_seq"]): str(e.attributes["name"])
        for e in kept
        if e.type == "ActivityScheduled"
    }


def search_attributes_at(kept: list[HistoryEvent]) -> dict[str, Json]:
    """The run's search attributes as they were at the end of `kept`: its start's, upserts merged."""
    attributes = dict(kept[0].attributes.get("search_attributes") or {})
    for event in kept:
        if event.type == "SearchAttributesUpserted":
            attributes.update(event.attributes["attributes"])
    return attributes


async def restore_activities(scope: RunScope, failed_run_id: uuid.UUID, kept: list[HistoryEvent]) -> None:
    """Every activity the kept history scheduled: as it ended when the history holds its outcome
    (replays look rows up by seq), else scheduled again from attempt 1."""
    scheduled = [int(e.attributes["activity_seq"]) for e in kept if e.type == "ActivityScheduled"]
    ended = {int(e.attributes["activity_seq"]) for e in kept if e.type in ACTIVITY_OUTCOMES}
    rows = {a.activity_seq: a for a in await activity_store.of_run(scope.conn, failed_run_id)}
    restored = []
    for seq in scheduled:
        row = dataclasses.replace(rows[seq], run_id=scope.run.run_id, lease_token=None, timeout_at=None)
        if seq not in ended:
            row = dataclasses.replace(
                row,
                status=activity_store.SCHEDULED,
                attempt=1,
                scheduled_at=scope.now,
                started_at=None,
                timeout_at=schedule_to_start_deadline(row, scope.now),
                worker_id=None,
                last_heartbeat=None,
                heartbeat_details=None,
                cancel_requested=False,
                result=None,
                error=None,
            )
            scope.work.topics.add(activity_task_topic(row.namespace, row.task_queue))
            if row.timeout_at is not None:
                scope.work.notify_timekeeper(row.timeout_at)
        restored.append(dataclasses.asdict(row))
    await activity_store.insert_many(scope.conn, restored)


async def restore_timers(scope: RunScope, kept: list[HistoryEvent]) -> None:
    """Every timer the kept history started: as it ended, or pending again with its own fire time."""
    ended = {int(e.attributes["timer_seq"]): TIMER_OUTCOMES[e.type] for e in kept if e.type in TIMER_OUTCOMES}
    for event in kept:
        if event.type != "TimerStarted":
            continue
        seq = int(event.attributes["timer_seq"])
        fire_at = datetime.fromisoformat(event.attributes["fire_at"])
        await activity_store.insert_timer(scope.conn, scope.run.run_id, seq, fire_at)
        if seq in ended:
            await activity_store.set_timer_status(scope.conn, scope.run.run_id, seq, ended[seq])
        else:
            scope.work.notify_timekeeper(fire_at)
