"""Workflows as callers see them: start, inspect, signal, cancel, terminate, await the result."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from assay_common.db import uuid7
from assay_common.events.schemas import workflow as events
from assay_workflow.domain.engine import (
    Engine,
    RunScope,
    Work,
    find_run,
    run_closed_topic,
    workflow_task_topic,
)
from assay_workflow.domain.errors import (
    InvalidSearchAttributes,
    InvalidTaskQueue,
    QueryStateNotFound,
    WorkflowAlreadyRunning,
    WorkflowClosed,
    WorkflowIdReuseRejected,
)
from assay_workflow.domain.namespaces import NamespaceNotFound
from assay_workflow.store import activities as activity_store
from assay_workflow.store import namespaces as namespace_store
from assay_workflow.store import runs as run_store
from assay_workflow.store.rows import HistoryEvent, Json, QueryStateRow, RunRow
from assay_workflow.store.runs import RunFilter as RunFilter  # re-exported: the API builds filters

IdReusePolicy = Literal[
    "allow_duplicate", "allow_duplicate_failed_only", "reject_duplicate", "terminate_if_running"
]
#: A task queue name is also a NATS subject token (wake-ups are published per queue).
TASK_QUEUE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
#: Search attribute keys are used as JSON paths in list filters.
ATTRIBUTE_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,100}$")


def check_task_queue(name: str) -> str:
    if not TASK_QUEUE_PATTERN.match(name):
        raise InvalidTaskQueue(f"{name!r}: use 1-100 letters, digits, '-' or '_'")
    return name


def check_search_attributes(attributes: dict[str, Json], *, scalars_only: bool = False) -> dict[str, Json]:
    for key, value in attributes.items():
        if not ATTRIBUTE_KEY_PATTERN.match(key):
            raise InvalidSearchAttributes(f"{key!r}: keys are 1-100 letters, digits or '_'")
        if scalars_only and not isinstance(value, str | int | float | bool):
            raise InvalidSearchAttributes(f"{key!r}: filter on a string, number or boolean")
    return attributes


def parse_attribute_filter(text: str | None) -> dict[str, Json]:
    """A list filter on search attributes: a JSON object of scalar values."""
    if text is None:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        raise InvalidSearchAttributes("search_attributes must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise InvalidSearchAttributes("search_attributes must be a JSON object")
    return check_search_attributes(parsed, scalars_only=True)


@dataclass(frozen=True)
class StartRequest:
    namespace: str
    workflow_id: str | None
    workflow_type: str
    task_queue: str
    input: Json
    search_attributes: dict[str, Json]
    id_reuse_policy: IdReusePolicy
    run_timeout_seconds: float | None


@dataclass(frozen=True)
class ParentRef:
    """The run that started a child, the seq it knows the child by, and what becomes of the
    child when that run closes first."""

    workflow_id: str
    run_id: uuid.UUID
    child_seq: int
    close_policy: str


class Workflows:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def start(self, request: StartRequest) -> RunRow:
        check_task_queue(request.task_queue)
        check_search_attributes(request.search_attributes)
        workflow_id = request.workflow_id or str(uuid7())
        async with self.engine.work() as work:
            if await namespace_store.get(work.conn, request.namespace) is None:
                raise NamespaceNotFound(f"namespace {request.namespace!r} does not exist")
            previous = await run_store.latest(work.conn, request.namespace, workflow_id, for_update=True)
            if previous is not None:
                await self._apply_reuse_policy(work, previous, request.id_reuse_policy)
            scope = await start_run(
                work,
                run_id=uuid7(),
                namespace=request.namespace,
                workflow_id=workflow_id,
                workflow_type=request.workflow_type,
                task_queue=request.task_queue,
                input=request.input,
                search_attributes=request.search_attributes,
                run_timeout_seconds=request.run_timeout_seconds,
                continued_from_run_id=None,
                parent=None,
            )
        return scope.run

    async def _apply_reuse_policy(self, work: Work, previous: RunRow, policy: IdReusePolicy) -> None:
        wid = previous.workflow_id
        if previous.is_open:
            if policy != "terminate_if_running":
                raise WorkflowAlreadyRunning(f"workflow {wid!r} has an open run ({previous.run_id})")
            await terminate_run(
                await work.scope(previous), "terminated to start a new run (terminate_if_running)"
            )
        elif policy == "reject_duplicate" or (
            policy == "allow_duplicate_failed_only" and previous.status in ("COMPLETED", "CONTINUED_AS_NEW")
        ):
            raise WorkflowIdReuseRejected(
                f"workflow {wid!r} already ran ({previous.status}) and the policy is {policy!r}"
            )

    async def get(self, namespace: str, workflow_id: str, run_id: uuid.UUID | None) -> RunRow:
        return await self.engine.read_run(namespace, workflow_id, run_id)

    async def find(self, where: RunFilter, *, before_run_id: uuid.UUID | None, limit: int) -> list[RunRow]:
        async with self.engine.db.read() as conn:
            return await run_store.list_page(conn, where, before_run_id=before_run_id, limit=limit)

    async def history(
        self,
        namespace: str,
        workflow_id: str,
        run_id: uuid.UUID | None,
        *,
        after_seq: int,
        before_seq: int | None,
        limit: int,
        order: Literal["asc", "desc"],
    ) -> tuple[RunRow, list[HistoryEvent]]:
        async with self.engine.db.read() as conn:
            run = await find_run(conn, namespace, workflow_id, run_id)
            found = await run_store.events(
                conn, run.run_id, after_seq=after_seq, before_seq=before_seq, limit=limit, order=order
            )
        return run, found

    async def signal(
        self, namespace: str, workflow_id: str, run_id: uuid.UUID | None, name: str, payload: Json
    ) -> None:
        async with self.engine.work() as work:
            scope = await open_run(work, namespace, workflow_id, run_id)
            await scope.append("SignalReceived", {"name": name, "payload": payload})
            await scope.emit(events.SignalReceived(**scope.ids(), signal=name))
            await scope.make_task()

    async def cancel(self, namespace: str, workflow_id: str, run_id: uuid.UUID | None, reason: str) -> None:
        """Ask the run's code to cancel: pending activities and timers are cancelled now, running
        activities learn it from their next heartbeat, and the code gets a task to react."""
        async with self.engine.work() as work:
            await request_cancel(await open_run(work, namespace, workflow_id, run_id), reason)

    async def terminate(
        self, namespace: str, workflow_id: str, run_id: uuid.UUID | None, reason: str
    ) -> None:
        async with self.engine.work() as work:
            await terminate_run(await open_run(work, namespace, workflow_id, run_id), reason)

    async def result(
        self, namespace: str, workflow_id: str, run_id: uuid.UUID | None, wait_seconds: float
    ) -> RunRow:
        """The run once it has closed, or as it is when `wait_seconds` have passed."""
        run = await self.engine.read_run(namespace, workflow_id, run_id)
        if not run.is_open or wait_seconds <= 0:
            return run

        async def closed() -> tuple[RunRow | None, datetime | None]:
            current = await self.engine.read_run(namespace, workflow_id, run.run_id)
            return (None if current.is_open else current), None

        found = await self.engine.long_poll(run_closed_topic(run.run_id), wait_seconds, closed)
        return found or await self.engine.read_run(namespace, workflow_id, run.run_id)

    async def query_state(self, namespace: str, workflow_id: str, run_id: uuid.UUID | None) -> QueryStateRow:
        run = await self.engine.read_run(namespace, workflow_id, run_id)
        async with self.engine.db.read() as conn:
            state = await run_store.get_query_state(conn, run.run_id)
        if state is None:
            raise QueryStateNotFound(f"workflow {workflow_id!r} has not recorded query state")
        return state


async def open_run(work: Work, namespace: str, workflow_id: str, run_id: uuid.UUID | None) -> RunScope:
    scope = await work.lock_workflow(namespace, workflow_id, run_id)
    if not scope.run.is_open:
        raise WorkflowClosed(f"workflow {workflow_id!r} is {scope.run.status}; start a new run instead")
    return scope


async def request_cancel(scope: RunScope, reason: str) -> None:
    """Ask the run's code to cancel (once): pending activities and timers are cancelled now,
    running activities learn it from their next heartbeat, and the code gets a task to react."""
    conn = scope.conn
    if await run_store.events(conn, scope.run.run_id, types=("CancelRequested",), limit=1):
        return
    await scope.append("CancelRequested", {"reason": reason})
    for activity in await activity_store.of_run(conn, scope.run.run_id):
        if activity.status == activity_store.SCHEDULED:
            await activity_store.update(
                conn, activity.run_id, activity.activity_seq, status="CANCELLED", timeout_at=None
            )
            await scope.append("ActivityCancelled", {"activity_seq": activity.activity_seq})
        elif activity.status == activity_store.RUNNING:
            await activity_store.update(conn, activity.run_id, activity.activity_seq, cancel_requested=True)
    for timer in await activity_store.pending_timers(conn, scope.run.run_id):
        await activity_store.set_timer_status(conn, timer.run_id, timer.timer_seq, "CANCELLED")
        await scope.append("TimerCancelled", {"timer_seq": timer.timer_seq})
    await scope.make_task()


async def start_run(
    work: Work,
    *,
    run_id: uuid.UUID,
    namespace: str,
    workflow_id: str,
    workflow_type: str,
    task_queue: str,
    input: Json,
    search_attributes: dict[str, Json],
    run_timeout_seconds: float | None,
    continued_from_run_id: uuid.UUID | None,
    parent: ParentRef | None,
) -> RunScope:
    now = work.now
    deadline = now + timedelta(seconds=run_timeout_seconds) if run_timeout_seconds is not None else None
    # The row already counts the WorkflowStarted event appended below as seq 1.
    inserted = await run_store.insert(
        work.conn,
        {
            "run_id": run_id,
            "namespace": namespace,
            "workflow_id": workflow_id,
            "workflow_type": workflow_type,
            "task_queue": task_queue,
            "status": "RUNNING",
            "input": input,
            "search_attributes": search_attributes,
            "continued_from_run_id": continued_from_run_id,
            "parent_workflow_id": parent.workflow_id if parent else None,
            "parent_run_id": parent.run_id if parent else None,
            "parent_child_seq": parent.child_seq if parent else None,
            "parent_close_policy": parent.close_policy if parent else None,
            "run_timeout_seconds": run_timeout_seconds,
            "run_deadline": deadline,
            "created_at": now,
            "updated_at": now,
            "task_ready": True,
            "task_ready_at": now,
            "task_dirty": False,
            "task_attempt": 1,
            "last_seq": 1,
        },
    )
    if inserted is None:
        raise WorkflowAlreadyRunning(f"workflow {workflow_id!r} has an open run")
    scope = await work.scope(inserted)
    await run_store.append_event(
        work.conn,
        run_id,
        1,
        "WorkflowStarted",
        {
            "workflow_type": workflow_type,
            "input": input,
            "task_queue": task_queue,
            "parent": {
                "workflow_id": parent.workflow_id,
                "run_id": str(parent.run_id),
                "seq": parent.child_seq,
            }
            if parent
            else None,
            "search_attributes": search_attributes,
            "run_timeout_seconds": run_timeout_seconds,
            "continued_from_run_id": str(continued_from_run_id) if continued_from_run_id else None,
        },
        now,
    )
    await scope.emit(
        events.WorkflowStarted(
            **scope.ids(),
            workflow_type=workflow_type,
            task_queue=task_queue,
            parent_workflow_id=parent.workflow_id if parent else None,
            continued_from_run_id=str(continued_from_run_id) if continued_from_run_id else None,
        )
    )
    work.topics.add(workflow_task_topic(namespace, task_queue))
    if deadline is not None:
        work.notify_timekeeper(deadline)
    return scope


async def terminate_run(scope: RunScope, reason: str) -> None:
    await scope.close(
        "TERMINATED",
        "WorkflowTerminated",
        {"reason": reason},
        error={"type": "Terminated", "message": reason},
    )
    await scope.emit(
        events.WorkflowTerminated(**scope.ids(), workflow_type=scope.run.workflow_type, reason=reason)
    )


async def time_out_run(scope: RunScope) -> None:
    await scope.close("TIMED_OUT", "WorkflowTimedOut", {})
    await scope.emit(events.WorkflowTimedOut(**scope.ids(), workflow_type=scope.run.workflow_type))
