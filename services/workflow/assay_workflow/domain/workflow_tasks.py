"""Workflow tasks: a run's code replays on a worker and answers with commands.

A task is leased under a token; anything sent with another token is stale and changes nothing.
A completion's commands, the history they append and their events commit in one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from assay_common.db import uuid7
from assay_common.events.schemas import workflow as events
from assay_workflow.domain import commands as c
from assay_workflow.domain.activity_tasks import claim_scheduled
from assay_workflow.domain.engine import (
    Engine,
    RunScope,
    WorkflowTask,
    activity_task_topic,
    build_task,
    workflow_task_topic,
)
from assay_workflow.domain.errors import InvalidCommands, WorkflowAlreadyRunning
from assay_workflow.domain.workflows import ParentRef, check_search_attributes, check_task_queue, start_run
from assay_workflow.store import activities as activity_store
from assay_workflow.store import runs as run_store
from assay_workflow.store.rows import ActivityRow, Json, WorkerRow

CompletionStatus = Literal["ok", "stale", "nondeterminism"]
#: A failed workflow task is retried after 1 s, doubling, at most this long.
MAX_TASK_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True)
class Completion:
    task_token: uuid.UUID
    commands: list[c.AnyCommand]


@dataclass(frozen=True)
class CompletionResult:
    task_token: uuid.UUID
    status: CompletionStatus
    next_task: WorkflowTask | None = None
    activity_tasks: list[ActivityRow] = field(default_factory=list)


@dataclass(frozen=True)
class TaskFailure:
    task_token: uuid.UUID
    kind: Literal["nondeterminism", "error"]
    message: str


class NonDeterminism(Exception):
    """A command contradicts the run's history: the code changed in an incompatible way."""


def validate(completions: list[Completion]) -> None:
    """Refuse the whole request before anything is applied."""
    for completion in completions:
        for index, command in enumerate(completion.commands):
            if isinstance(command, c.TERMINAL_COMMANDS) and index != len(completion.commands) - 1:
                raise InvalidCommands(f"{command.type} ends the workflow; no command may follow it")
            if (
                isinstance(command, c.ScheduleActivity | c.StartChildWorkflow)
                and command.task_queue is not None
            ):
                check_task_queue(command.task_queue)
            if isinstance(command, c.UpsertSearchAttributes):
                check_search_attributes(command.attributes)


class WorkflowTasks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def lease_seconds(self) -> float:
        return self.engine.settings.workflow_task_timeout_seconds

    async def poll(
        self, worker_id: str, max_tasks: int, wait_seconds: float, cached: dict[uuid.UUID, int]
    ) -> list[WorkflowTask]:
        worker = await self.engine.worker(worker_id)

        async def look() -> tuple[list[WorkflowTask] | None, datetime | None]:
            async with self.engine.work() as work:
                await self.engine.keep_alive(work, worker_id)
                room = worker.max_concurrent_workflow_tasks - await run_store.count_leases(
                    work.conn, worker_id
                )
                claimed = await run_store.claim_tasks(
                    work.conn,
                    namespace=worker.namespace,
                    task_queue=worker.task_queue,
                    workflow_types=worker.workflow_types,
                    worker_id=worker_id,
                    now=work.now,
                    lease_expires_at=work.now + timedelta(seconds=self.lease_seconds),
                    limit=min(max_tasks, room),
                )
                if claimed:
                    return [await build_task(work.conn, run, cached.get(run.run_id)) for run in claimed], None
                due = await run_store.earliest_ready_at(
                    work.conn,
                    namespace=worker.namespace,
                    task_queue=worker.task_queue,
                    workflow_types=worker.workflow_types,
                )
                return None, due

        topic = workflow_task_topic(worker.namespace, worker.task_queue)
        return await self.engine.long_poll(topic, wait_seconds, look) or []

    async def complete(self, worker_id: str, completions: list[Completion]) -> list[CompletionResult]:
        validate(completions)
        worker = await self.engine.worker(worker_id)
        return [await self._complete_one(worker, completion) for completion in completions]

    async def _complete_one(self, worker: WorkerRow, completion: Completion) -> CompletionResult:
        token = completion.task_token
        async with self.engine.work() as work:
            run = await run_store.by_lease_token(work.conn, token)
            if run is None or run.lease_worker_id != worker.worker_id:
                return CompletionResult(token, "stale")
            scope = await work.scope(run)
            try:
                await check_determinism(scope, completion.commands)
            except NonDeterminism as exc:
                await fail_task(scope, "nondeterminism", str(exc))
                return CompletionResult(token, "nondeterminism")
            scheduled = await apply_commands(scope, completion.commands)
            if not scope.run.is_open:
                return CompletionResult(token, "ok")
            known_seq = scope.run.lease_history_seq
            next_task = None
            if scope.run.task_dirty:
                # Something new came meanwhile, and the worker has this run cached: hand it the
                # next task straight away.
                next_task = await scope.lease_task(
                    worker.worker_id, self.lease_seconds, known_seq, task_attempt=1
                )
            else:
                await scope.update(**run_store.NO_LEASE, task_attempt=1)
            eager = await claim_scheduled(work.conn, worker, work.now, scheduled)
            for activity in eager:
                if activity.timeout_at is not None:
                    work.notify_timekeeper(activity.timeout_at)
            if len(eager) < len(scheduled):
                for activity in scheduled:
                    work.topics.add(activity_task_topic(activity.namespace, activity.task_queue))
            return CompletionResult(token, "ok", next_task, eager)

    async def fail(self, worker_id: str, failures: list[TaskFailure]) -> list[CompletionStatus]:
        statuses: list[CompletionStatus] = []
        for failure in failures:
            async with self.engine.work() as work:
                run = await run_store.by_lease_token(work.conn, failure.task_token)
                if run is None or run.lease_worker_id != worker_id:
                    statuses.append("stale")
                    continue
                await fail_task(await work.scope(run), failure.kind, failure.message)
                statuses.append("ok")
        return statuses


async def fail_task(scope: RunScope, kind: str, message: str) -> None:
    """End the lease and retry the task after a backoff; history notes the first failure of a
    streak only, so a task failing in a loop does not grow the history."""
    attempt = scope.run.task_attempt
    if attempt == 1:
        await scope.append("WorkflowTaskFailed", {"kind": kind, "message": message})
    delay = min(2.0 ** (attempt - 1), MAX_TASK_BACKOFF_SECONDS)
    await scope.update(
        **run_store.released_lease(scope.now + timedelta(seconds=delay)), task_attempt=attempt + 1
    )
    scope.work.topics.add(workflow_task_topic(scope.run.namespace, scope.run.task_queue))


async def check_determinism(scope: RunScope, commands: list[c.AnyCommand]) -> None:
    """Commands naming a seq that history already knows must agree with it."""
    run_id = scope.run.run_id
    activity_names: dict[int, str] = {}
    timers: set[int] = set()
    child_types: dict[int, str] = {}
    if any(isinstance(command, c.StartChildWorkflow) for command in commands):
        child_types = {
            seq: attributes["workflow_type"] for seq, attributes in (await child_events(scope)).items()
        }
    for command in commands:
        if isinstance(command, c.ScheduleActivity):
            existing = await activity_store.get(scope.conn, run_id, command.activity_seq)
            known = existing.name if existing else activity_names.get(command.activity_seq)
            if known is not None and known != command.name:
                raise NonDeterminism(
                    f"activity {command.activity_seq} is {known!r} in history but the code "
                    f"now schedules {command.name!r}"
                )
            activity_names[command.activity_seq] = command.name
        elif isinstance(command, c.RequestCancelActivity):
            if command.activity_seq not in activity_names and not await activity_store.get(
                scope.conn, run_id, command.activity_seq
            ):
                raise NonDeterminism(f"activity {command.activity_seq} was never scheduled")
        elif isinstance(command, c.StartTimer):
            timers.add(command.timer_seq)
        elif isinstance(command, c.StartChildWorkflow):
            known_type = child_types.setdefault(command.child_seq, command.workflow_type)
            if known_type != command.workflow_type:
                raise NonDeterminism(
                    f"child {command.child_seq} is a {known_type!r} in history but the code now "
                    f"starts a {command.workflow_type!r}"
                )
        elif (
            isinstance(command, c.CancelTimer)
            and command.timer_seq not in timers
            and not await activity_store.get_timer(scope.conn, run_id, command.timer_seq)
        ):
            raise NonDeterminism(f"timer {command.timer_seq} was never started")


async def apply_commands(scope: RunScope, commands: list[c.AnyCommand]) -> list[ActivityRow]:
    """Apply the commands in order; those whose effect is already in history are no-ops, so a
    replay may repeat them. Returns the activities scheduled now."""
    scheduled: list[ActivityRow] = []
    for command in commands:
        if isinstance(command, c.ScheduleActivity):
            activity = await schedule_activity(scope, command)
            if activity is not None:
                scheduled.append(activity)
        elif isinstance(command, c.RequestCancelActivity):
            await request_cancel_activity(scope, command.activity_seq)
        elif isinstance(command, c.StartTimer):
            await start_timer(scope, command)
        elif isinstance(command, c.CancelTimer):
            timer = await activity_store.get_timer(scope.conn, scope.run.run_id, command.timer_seq)
            if timer is not None and timer.status == "PENDING":
                await activity_store.set_timer_status(
                    scope.conn, scope.run.run_id, command.timer_seq, "CANCELLED"
                )
                await scope.append("TimerCancelled", {"timer_seq": command.timer_seq})
        elif isinstance(command, c.RecordSideEffect):
            await record_side_effect(scope, command)
        elif isinstance(command, c.StartChildWorkflow):
            await start_child(scope, command)
        elif isinstance(command, c.UpsertSearchAttributes):
            merged = {**scope.run.search_attributes, **command.attributes}
            if merged != scope.run.search_attributes:
                await scope.update(search_attributes=merged)
                await scope.append("SearchAttributesUpserted", {"attributes": command.attributes})
                # A new task lets code that waits on the upsert go on at once.
                await scope.make_task()
        elif isinstance(command, c.RecordQueryState):
            changed = await run_store.save_query_state(
                scope.conn, scope.run.run_id, command.state, scope.last_seq, scope.now
            )
            if changed:
                await scope.emit(events.QueryStateUpdated(**scope.ids(), event_seq=scope.last_seq))
        else:
            await close_run(scope, command)
    return scheduled


async def schedule_activity(scope: RunScope, command: c.ScheduleActivity) -> ActivityRow | None:
    run = scope.run
    task_queue = command.task_queue or run.task_queue
    deadline = (
        scope.now + timedelta(seconds=command.schedule_to_start_timeout)
        if command.schedule_to_start_timeout is not None
        else None
    )
    values = {
        "run_id": run.run_id,
        "activity_seq": command.activity_seq,
        "namespace": run.namespace,
        "workflow_id": run.workflow_id,
        "name": command.name,
        "task_queue": task_queue,
        "input": command.input,
        "status": activity_store.SCHEDULED,
        "attempt": 1,
        **command.retry.model_dump(),
        "schedule_to_start_timeout": command.schedule_to_start_timeout,
        "start_to_close_timeout": command.start_to_close_timeout,
        "heartbeat_timeout": command.heartbeat_timeout,
        "scheduled_at": scope.now,
        "timeout_at": deadline,
        "cancel_requested": False,
    }
    activity = await activity_store.insert(scope.conn, values)
    if activity is None:
        return None  # scheduled by an earlier task: a replay repeats the command
    if deadline is not None:
        scope.work.notify_timekeeper(deadline)
    await scope.append(
        "ActivityScheduled",
        {
            "activity_seq": command.activity_seq,
            "name": command.name,
            "input": command.input,
            "task_queue": task_queue,
            "retry": command.retry.model_dump(),
            "schedule_to_start_timeout": command.schedule_to_start_timeout,
            "start_to_close_timeout": command.start_to_close_timeout,
            "heartbeat_timeout": command.heartbeat_timeout,
        },
    )
    await scope.emit(
        events.ActivityScheduled(
            **scope.ids(), activity_seq=command.activity_seq, name=command.name, task_queue=task_queue
        )
    )
    return activity


async def request_cancel_activity(scope: RunScope, activity_seq: int) -> None:
    activity = await activity_store.get(scope.conn, scope.run.run_id, activity_seq)
    if activity is None:
        return
    if activity.status == activity_store.SCHEDULED:
        await activity_store.update(
            scope.conn, activity.run_id, activity_seq, status="CANCELLED", timeout_at=None
        )
        await scope.append("ActivityCancelled", {"activity_seq": activity_seq})
        await scope.make_task()
    elif activity.status == activity_store.RUNNING and not activity.cancel_requested:
        # The worker learns it from its next heartbeat; the outcome it reports is still recorded.
        await activity_store.update(scope.conn, activity.run_id, activity_seq, cancel_requested=True)


async def start_timer(scope: RunScope, command: c.StartTimer) -> None:
    if await activity_store.get_timer(scope.conn, scope.run.run_id, command.timer_seq) is not None:
        return
    fire_at = scope.now + timedelta(seconds=command.seconds)
    await activity_store.insert_timer(scope.conn, scope.run.run_id, command.timer_seq, fire_at)
    await scope.append("TimerStarted", {"timer_seq": command.timer_seq, "fire_at": fire_at.isoformat()})
    scope.work.notify_timekeeper(fire_at)


async def child_events(scope: RunScope) -> dict[int, dict[str, Json]]:
    """What the run's history says of each child it started (or failed to start), by child_seq."""
    found = await run_store.events(
        scope.conn, scope.run.run_id, types=("ChildWorkflowStarted", "ChildWorkflowFailed")
    )
    children: dict[int, dict[str, Json]] = {}
    for event in found:
        children.setdefault(event.attributes["child_seq"], event.attributes)
    return children


async def start_child(scope: RunScope, command: c.StartChildWorkflow) -> None:
    if command.child_seq in await child_events(scope):
        return
    parent = scope.run
    try:
        child = await start_run(
            scope.work,
            run_id=uuid7(),
            namespace=parent.namespace,
            workflow_id=command.workflow_id,
            workflow_type=command.workflow_type,
            task_queue=command.task_queue or parent.task_queue,
            input=command.input,
            search_attributes={},
            run_timeout_seconds=None,
            continued_from_run_id=None,
            parent=ParentRef(
                parent.workflow_id, parent.run_id, command.child_seq, command.parent_close_policy
            ),
        )
    except WorkflowAlreadyRunning as exc:
        # The id is taken: the parent learns it now instead of waiting for a child that never starts.
        error = {"type": "WorkflowAlreadyRunning", "message": exc.detail, "non_retryable": True}
        failed = {"child_seq": command.child_seq, "workflow_type": command.workflow_type, "error": error}
        await scope.append("ChildWorkflowFailed", failed)
        await scope.make_task()
        return
    await scope.append(
        "ChildWorkflowStarted",
        {
            "child_seq": command.child_seq,
            "workflow_id": command.workflow_id,
            "run_id": str(child.run.run_id),
            "workflow_type": command.workflow_type,
        },
    )


async def record_side_effect(scope: RunScope, command: c.RecordSideEffect) -> None:
    recorded = await run_store.events(scope.conn, scope.run.run_id, types=("SideEffectRecorded",))
    if any(event.attributes["side_effect_seq"] == command.side_effect_seq for event in recorded):
        return
    await scope.append(
        "SideEffectRecorded", {"side_effect_seq": command.side_effect_seq, "value": command.value}
    )
    await scope.make_task()


async def close_run(
    scope: RunScope, command: c.CompleteWorkflow | c.FailWorkflow | c.CancelWorkflow | c.ContinueAsNew
) -> None:
    ids = scope.ids()
    workflow_type = scope.run.workflow_type
    if isinstance(command, c.CompleteWorkflow):
        await scope.close("COMPLETED", "WorkflowCompleted", {"result": command.result}, result=command.result)
        await scope.emit(events.WorkflowCompleted(**ids, workflow_type=workflow_type))
    elif isinstance(command, c.FailWorkflow):
        error = command.error.model_dump()
        await scope.close("FAILED", "WorkflowFailed", {"error": error}, error=error)
        await scope.emit(
            events.WorkflowFailed(**ids, workflow_type=workflow_type, message=command.error.message)
        )
    elif isinstance(command, c.CancelWorkflow):
        await scope.close("CANCELLED", "WorkflowCancelled", {})
        await scope.emit(events.WorkflowCancelled(**ids, workflow_type=workflow_type))
    else:
        await continue_as_new(scope, command.input)


async def continue_as_new(scope: RunScope, input: Json) -> RunScope:
    """Close the run CONTINUED_AS_NEW and start its successor with `input`: the same workflow id,
    type, queue, search attributes, run timeout and parent, a fresh history. Returns the new run."""
    old = scope.run
    new_run_id = uuid7()
    await scope.close(
        "CONTINUED_AS_NEW", "WorkflowContinuedAsNew", {"new_run_id": str(new_run_id), "input": input}
    )
    await scope.emit(
        events.WorkflowContinuedAsNew(
            **scope.ids(), workflow_type=old.workflow_type, new_run_id=str(new_run_id)
        )
    )
    return await start_run(
        scope.work,
        run_id=new_run_id,
        namespace=old.namespace,
        workflow_id=old.workflow_id,
        workflow_type=old.workflow_type,
        task_queue=old.task_queue,
        input=input,
        search_attributes=old.search_attributes,
        run_timeout_seconds=old.run_timeout_seconds,
        continued_from_run_id=old.run_id,
        # The chain of runs is one child to its parent: the last run's outcome is reported.
        parent=ParentRef(
            old.parent_workflow_id, old.parent_run_id, old.parent_child_seq, old.parent_close_policy
        )
        if old.parent_workflow_id and old.parent_run_id and old.parent_child_seq and old.parent_close_policy
        else None,
    )
