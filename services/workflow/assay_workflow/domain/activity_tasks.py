"""Activity tasks: claimed by workers that registered the activity, completed or failed with a
retry policy, kept alive by heartbeats (which also carry cancellation back to the worker)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.events.schemas import workflow as events
from assay_workflow.domain.commands import ErrorInfo
from assay_workflow.domain.engine import (
    Engine,
    RunScope,
    Work,
    WorkflowTask,
    activity_task_topic,
)
from assay_workflow.store import activities as activity_store
from assay_workflow.store import runs as run_store
from assay_workflow.store.rows import ActivityRow, Json, WorkerRow

TaskStatus = Literal["ok", "stale"]


@dataclass(frozen=True)
class ActivityOutcome:
    task_token: uuid.UUID
    result: Json = None
    error: ErrorInfo | None = None


@dataclass
class CompletionResult:
    statuses: list[TaskStatus] = field(default_factory=list)
    workflow_tasks: list[WorkflowTask] = field(default_factory=list)


@dataclass(frozen=True)
class HeartbeatOutcome:
    status: TaskStatus
    cancel_requested: bool


def first_timeout(activity: ActivityRow, started_at: datetime, last_heartbeat: datetime) -> datetime | None:
    """The earliest of a running activity's start-to-close and heartbeat deadlines."""
    deadlines = []
    if activity.start_to_close_timeout is not None:
        deadlines.append(started_at + timedelta(seconds=activity.start_to_close_timeout))
    if activity.heartbeat_timeout is not None:
        deadlines.append(last_heartbeat + timedelta(seconds=activity.heartbeat_timeout))
    return min(deadlines, default=None)


def schedule_to_start_deadline(activity: ActivityRow, scheduled_at: datetime) -> datetime | None:
    if activity.schedule_to_start_timeout is None:
        return None
    return scheduled_at + timedelta(seconds=activity.schedule_to_start_timeout)


def backoff(activity: ActivityRow) -> float:
    """Seconds before the next attempt: initial_interval * coefficient^(attempt-1), capped."""
    delay = activity.initial_interval * activity.backoff_coefficient ** (activity.attempt - 1)
    return min(delay, activity.max_interval)


async def claim_activities(
    conn: AsyncConnection, worker: WorkerRow, now: datetime, limit: int
) -> list[ActivityRow]:
    """Lease up to `limit` ready activities the worker registered (never more than it has room for)."""
    room = worker.max_concurrent_activities - await activity_store.count_running(conn, worker.worker_id)
    claimable = await activity_store.claimable(
        conn,
        namespace=worker.namespace,
        task_queue=worker.task_queue,
        names=worker.activity_names,
        now=now,
        limit=min(limit, room),
    )
    return [await lease_activity(conn, activity, worker, now) for activity in claimable]


async def claim_scheduled(
    conn: AsyncConnection, worker: WorkerRow, now: datetime, scheduled: list[ActivityRow]
) -> list[ActivityRow]:
    """Eager dispatch: lease activities just scheduled in this transaction (so no one else can
    have claimed them) to the worker whose command scheduled them, when it runs them and has room."""
    runnable = [
        activity
        for activity in scheduled
        if activity.namespace == worker.namespace
        and activity.task_queue == worker.task_queue
        and activity.name in worker.activity_names
    ]
    if not runnable:
        return []
    room = worker.max_concurrent_activities - await activity_store.count_running(conn, worker.worker_id)
    return [await lease_activity(conn, activity, worker, now) for activity in runnable[: max(room, 0)]]


async def lease_activity(
    conn: AsyncConnection, activity: ActivityRow, worker: WorkerRow, now: datetime
) -> ActivityRow:
    leased = dataclasses.replace(
        activity,
        status=activity_store.RUNNING,
        lease_token=uuid.uuid4(),
        worker_id=worker.worker_id,
        started_at=now,
        last_heartbeat=None,
        timeout_at=first_timeout(activity, now, now),
    )
    await activity_store.update(
        conn,
        activity.run_id,
        activity.activity_seq,
        status=leased.status,
        lease_token=leased.lease_token,
        worker_id=leased.worker_id,
        started_at=leased.started_at,
        last_heartbeat=None,
        timeout_at=leased.timeout_at,
    )
    return leased


async def retry_or_finish(
    scope: RunScope,
    activity: ActivityRow,
    *,
    reason: str,
    final: bool,
    timeout: str | None,
    error: ErrorInfo | None,
) -> None:
    """An attempt failed or timed out: schedule the next one after its backoff, or, when this was
    the last (or the error is final), record the outcome in history and give the run a task."""
    seq = activity.activity_seq
    if not final and activity.attempt < activity.max_attempts:
        next_at = scope.now + timedelta(seconds=backoff(activity))
        await activity_store.update(
            scope.conn,
            activity.run_id,
            seq,
            status=activity_store.SCHEDULED,
            attempt=activity.attempt + 1,
            scheduled_at=next_at,
            started_at=None,
            lease_token=None,
            worker_id=None,
            timeout_at=schedule_to_start_deadline(activity, next_at),
            error=error.model_dump() if error else {"type": "Timeout", "message": reason},
        )
        await scope.emit(
            events.ActivityRetried(
                **scope.ids(),
                activity_seq=seq,
                name=activity.name,
                attempt=activity.attempt,
                next_attempt_at=next_at,
                reason=reason,
            )
        )
        scope.work.topics.add(activity_task_topic(activity.namespace, activity.task_queue))
        if (deadline := schedule_to_start_deadline(activity, next_at)) is not None:
            scope.work.notify_timekeeper(deadline)
        return
    ended = {"lease_token": None, "timeout_at": None}
    if timeout is not None:
        await activity_store.update(scope.conn, activity.run_id, seq, status="TIMED_OUT", **ended)
        await scope.append(
            "ActivityTimedOut", {"activity_seq": seq, "timeout": timeout, "attempt": activity.attempt}
        )
        await scope.emit(
            events.ActivityTimedOut(
                **scope.ids(), activity_seq=seq, name=activity.name, attempt=activity.attempt, timeout=timeout
            )
        )
    else:
        assert error is not None
        await activity_store.update(
            scope.conn, activity.run_id, seq, status="FAILED", error=error.model_dump(), **ended
        )
        await scope.append(
            "ActivityFailed", {"activity_seq": seq, "error": error.model_dump(), "attempt": activity.attempt}
        )
        await scope.emit(
            events.ActivityFailed(
                **scope.ids(),
                activity_seq=seq,
                name=activity.name,
                attempt=activity.attempt,
                error_type=error.type,
                message=error.message,
            )
        )
    await scope.make_task()


async def release_activity(scope: RunScope, activity: ActivityRow) -> None:
    """Hand a running activity back (its worker left): claimable again at once, same attempt."""
    current = await activity_store.get(scope.conn, activity.run_id, activity.activity_seq)
    if current is None or current.status != activity_store.RUNNING or current.worker_id != activity.worker_id:
        return
    await activity_store.update(
        scope.conn,
        current.run_id,
        current.activity_seq,
        status=activity_store.SCHEDULED,
        scheduled_at=scope.now,
        started_at=None,
        lease_token=None,
        worker_id=None,
        timeout_at=schedule_to_start_deadline(current, scope.now),
    )
    scope.work.topics.add(activity_task_topic(current.namespace, current.task_queue))


class ActivityTasks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def poll(self, worker_id: str, max_tasks: int, wait_seconds: float) -> list[ActivityRow]:
        worker = await self.engine.worker(worker_id)

        async def look() -> tuple[list[ActivityRow] | None, datetime | None]:
            async with self.engine.work() as work:
                await self.engine.keep_alive(work, worker_id)
                claimed = await claim_activities(work.conn, worker, work.now, max_tasks)
                for activity in claimed:
                    if activity.timeout_at is not None:
                        work.notify_timekeeper(activity.timeout_at)
                if claimed:
                    return claimed, None
                due = await activity_store.earliest_scheduled_at(
                    work.conn,
                    namespace=worker.namespace,
                    task_queue=worker.task_queue,
                    names=worker.activity_names,
                )
                return None, due

        topic = activity_task_topic(worker.namespace, worker.task_queue)
        return await self.engine.long_poll(topic, wait_seconds, look) or []

    async def complete(
        self,
        worker_id: str,
        outcomes: list[ActivityOutcome],
        *,
        max_workflow_tasks: int = 0,
        cached: dict[uuid.UUID, int] | None = None,
    ) -> CompletionResult:
        """Record the outcomes. A worker that asks for them gets back (up to
        `max_workflow_tasks`) the workflow tasks its completions make, for runs it can run: it
        need not poll for them."""
        worker = await self.engine.worker(worker_id)
        result = CompletionResult()
        for outcome in outcomes:
            wants_task = len(result.workflow_tasks) < max_workflow_tasks
            status, task = await self._complete_one(worker, outcome, wants_task, cached or {})
            result.statuses.append(status)
            if task is not None:
                result.workflow_tasks.append(task)
        return result

    async def _complete_one(
        self, worker: WorkerRow, outcome: ActivityOutcome, wants_task: bool, cached: dict[uuid.UUID, int]
    ) -> tuple[TaskStatus, WorkflowTask | None]:
        async with self.engine.work() as work:
            scope = await work.lock_run_of_activity(outcome.task_token)
            current = await activity_store.by_lease_token(work.conn, outcome.task_token)
            if (
                scope is None
                or current is None
                or current.worker_id != worker.worker_id
                or current.status != activity_store.RUNNING
            ):
                return "stale", None
            if outcome.error is not None:
                final = outcome.error.non_retryable or outcome.error.type in current.non_retryable_errors
                await retry_or_finish(
                    scope,
                    current,
                    reason=outcome.error.message,
                    final=final,
                    timeout=None,
                    error=outcome.error,
                )
                return "ok", None
            await activity_store.update(
                work.conn,
                current.run_id,
                current.activity_seq,
                status="COMPLETED",
                result=outcome.result,
                lease_token=None,
                timeout_at=None,
            )
            await scope.append(
                "ActivityCompleted",
                {"activity_seq": current.activity_seq, "result": outcome.result, "attempt": current.attempt},
            )
            await scope.emit(
                events.ActivityCompleted(
                    **scope.ids(),
                    activity_seq=current.activity_seq,
                    name=current.name,
                    attempt=current.attempt,
                )
            )
            if wants_task and await self._may_take(work, worker, scope):
                run_id = scope.run.run_id
                return "ok", await scope.lease_task(worker.worker_id, self.lease_seconds, cached.get(run_id))
            await scope.make_task()
            return "ok", None

    async def _may_take(self, work: Work, worker: WorkerRow, scope: RunScope) -> bool:
        """Whether the run's next task may go straight to `worker` (no one holds it, the worker
        runs that workflow type and has room for one more)."""
        run = scope.run
        limit = worker.max_concurrent_workflow_tasks
        return (
            run.is_open
            and run.lease_token is None
            and run.namespace == worker.namespace
            and run.task_queue == worker.task_queue
            and run.workflow_type in worker.workflow_types
            and await run_store.count_leases(work.conn, worker.worker_id) < limit
        )

    @property
    def lease_seconds(self) -> float:
        return self.engine.settings.workflow_task_timeout_seconds

    async def heartbeat(self, worker_id: str, beats: list[tuple[uuid.UUID, Json]]) -> list[HeartbeatOutcome]:
        return [await self._heartbeat_one(worker_id, token, details) for token, details in beats]

    async def _heartbeat_one(self, worker_id: str, token: uuid.UUID, details: Json) -> HeartbeatOutcome:
        async with self.engine.work() as work:
            activity = await activity_store.by_lease_token(work.conn, token)
            if (
                activity is None
                or activity.worker_id != worker_id
                or activity.status != activity_store.RUNNING
            ):
                return HeartbeatOutcome("stale", cancel_requested=False)
            assert activity.started_at is not None
            await activity_store.update(
                work.conn,
                activity.run_id,
                activity.activity_seq,
                last_heartbeat=work.now,
                heartbeat_details=details,
                timeout_at=first_timeout(activity, activity.started_at, work.now),
            )
            return HeartbeatOutcome("ok", cancel_requested=activity.cancel_requested)
