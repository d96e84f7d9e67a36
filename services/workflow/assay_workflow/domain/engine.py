"""The engine's unit of work: one transaction that changes runs, appends their history, writes
their events to the outbox, and, only after it commits, wakes whoever waits for the outcome.

Every change to a run, its activities or its timers happens under the run's row lock (taken
first, so locks are always acquired in the same order), which also makes the history sequence
(`max(seq) + 1`) safe: SQLite's `BEGIN IMMEDIATE` serialises writers, Postgres locks the row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import Database, Transaction, utcnow
from assay_common.events.envelope import EventData
from assay_common.events.outbox import Outbox
from assay_common.events.wakeups import Wakeups
from assay_workflow.domain.errors import WorkerNotFound, WorkflowNotFound
from assay_workflow.domain.waiting import wait_for
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import activities as activity_store
from assay_workflow.store import runs as run_store
from assay_workflow.store import workers as worker_store
from assay_workflow.store.rows import HistoryEvent, Json, RunRow, WorkerRow

T = TypeVar("T")


def workflow_task_topic(namespace: str, task_queue: str) -> str:
    return f"workflow-tasks.{namespace}.{task_queue}"


def activity_task_topic(namespace: str, task_queue: str) -> str:
    return f"activity-tasks.{namespace}.{task_queue}"


def run_closed_topic(run_id: uuid.UUID) -> str:
    return f"run-closed.{run_id}"


TIMEKEEPER_TOPIC = "timekeeper"
NEVER = datetime.max.replace(tzinfo=UTC)
MAX_CACHED_WORKERS = 10_000
#: How often at most a polling worker's liveness is written: this often, or a third of the worker
#: timeout when that is shorter, so that a worker that keeps polling is never taken for silent.
KEEP_ALIVE_REFRESH = timedelta(seconds=1)
#: The event a parent's history records when its child closes with each status.
CHILD_OUTCOMES = {
    "COMPLETED": "ChildWorkflowCompleted",
    "FAILED": "ChildWorkflowFailed",
    "CANCELLED": "ChildWorkflowCancelled",
    "TERMINATED": "ChildWorkflowTerminated",
    "TIMED_OUT": "ChildWorkflowTimedOut",
}


@dataclass
class Engine:
    """What every part of the domain needs: the store, the outbox and the wake-ups."""

    db: Database
    outbox: Outbox
    wakeups: Wakeups
    settings: WorkflowSettings
    #: Rung in this process when an earlier deadline appears; other replicas hear it over NATS.
    timekeeper_bell: asyncio.Event = field(default_factory=asyncio.Event)
    #: When this process's timekeeper will look next (the far future while it is looking now):
    #: a deadline after that needs no bell.
    timekeeper_plan: datetime = NEVER
    #: Registrations never change, so each is read once; a removed worker is caught where it
    #: matters (its poll's keep-alive finds no row, its leases were handed back).
    _workers: dict[str, WorkerRow] = field(default_factory=dict)
    #: When this process last recorded each worker's sign of life.
    _touched: dict[str, datetime] = field(default_factory=dict)
    #: What time it is for units of work (tests move it to cross slots and DST changes).
    clock: Callable[[], datetime] = utcnow

    @asynccontextmanager
    async def work(self) -> AsyncIterator[Work]:
        async with self.db.transaction() as tx:
            work = Work(self, tx, self.clock())
            yield work
            await work.flush()
        # After the commit, never before: a woken poller must find what woke it.
        if work.timekeeper_due is not None and work.timekeeper_due < self.timekeeper_plan:
            self.timekeeper_bell.set()
            await self.wakeups.notify(TIMEKEEPER_TOPIC)
        for topic in sorted(work.topics):
            await self.wakeups.notify(topic)

    async def long_poll(
        self, topic: str, wait_seconds: float, look: Callable[[], Awaitable[tuple[T | None, datetime | None]]]
    ) -> T | None:
        """`wait_for` with the wait capped, so the answer always beats the gateway's timeout."""
        return await wait_for(
            self.wakeups, topic, min(wait_seconds, self.settings.longest_poll_seconds), look
        )

    async def worker(self, worker_id: str) -> WorkerRow:
        """A registered worker's registration."""
        if (worker := self._workers.get(worker_id)) is None:
            async with self.db.read() as conn:
                worker = await worker_store.get(conn, worker_id)
            if worker is None:
                raise WorkerNotFound(f"worker {worker_id!r} is not registered; register it again")
            if len(self._workers) >= MAX_CACHED_WORKERS:
                self._workers.clear()
                self._touched.clear()
            self._workers[worker_id] = worker
        return worker

    async def keep_alive(self, work: Work, worker_id: str) -> None:
        """A poll is a sign of life too; a worker removed meanwhile (as silent) must register
        again. A worker seen alive here very recently is not written again (it polls often; see
        KEEP_ALIVE_REFRESH)."""
        last = self._touched.get(worker_id)
        refresh = min(KEEP_ALIVE_REFRESH, timedelta(seconds=self.settings.worker_timeout_seconds / 3))
        if last is not None and work.now - last < refresh:
            return
        if not await worker_store.touch(work.conn, worker_id, work.now):
            self.forget_worker(worker_id)
            raise WorkerNotFound(f"worker {worker_id!r} was removed; register it again")
        self._touched[worker_id] = work.now

    def forget_worker(self, worker_id: str) -> None:
        self._workers.pop(worker_id, None)
        self._touched.pop(worker_id, None)

    async def read_run(self, namespace: str, workflow_id: str, run_id: uuid.UUID | None) -> RunRow:
        async with self.db.read() as conn:
            return await find_run(conn, namespace, workflow_id, run_id)


async def find_run(
    conn: AsyncConnection,
    namespace: str,
    workflow_id: str,
    run_id: uuid.UUID | None,
    *,
    for_update: bool = False,
) -> RunRow:
    """The given run of a workflow id, or its latest run."""
    if run_id is None:
        run = await run_store.latest(conn, namespace, workflow_id, for_update=for_update)
    else:
        run = await run_store.get(conn, run_id, for_update=for_update)
        if run is not None and (run.namespace, run.workflow_id) != (namespace, workflow_id):
            run = None
    if run is None:
        raise WorkflowNotFound(f"workflow {workflow_id!r} does not exist in namespace {namespace!r}")
    return run


@dataclass(frozen=True)
class WorkflowTask:
    token: uuid.UUID
    run: RunRow
    history: list[HistoryEvent]
    history_from_seq: int


async def build_task(conn: AsyncConnection, run: RunRow, known_seq: int | None) -> WorkflowTask:
    """The task of a leased run; a worker that has the run cached up to `known_seq` gets only
    what came after it."""
    assert run.lease_token is not None and run.lease_history_seq is not None
    from_seq = known_seq + 1 if known_seq is not None and 0 < known_seq <= run.lease_history_seq else 1
    history = await run_store.events(conn, run.run_id, after_seq=from_seq - 1)
    return WorkflowTask(run.lease_token, run, history, from_seq)


class Work:
    """One open transaction of the engine."""

    def __init__(self, engine: Engine, tx: Transaction, now: datetime) -> None:
        self.engine = engine
        self.tx = tx
        self.conn = tx.conn
        self.now = now
        self.topics: set[str] = set()
        #: The earliest deadline this unit of work brought (the timekeeper must not sleep past it).
        self.timekeeper_due: datetime | None = None
        #: One scope per run: two scopes of a run would hand out the same history seq.
        self._scopes: dict[uuid.UUID, RunScope] = {}

    async def lock_run(self, run_id: uuid.UUID) -> RunScope | None:
        if scope := self._scopes.get(run_id):
            return scope
        run = await run_store.get(self.conn, run_id, for_update=True)
        return await self.scope(run) if run else None

    async def lock_run_of_activity(self, task_token: uuid.UUID) -> RunScope | None:
        """Lock the run of the activity leased under `task_token` (None if no activity is)."""
        run = await run_store.lock_by_activity_token(self.conn, task_token)
        return await self.scope(run) if run else None

    async def lock_workflow(self, namespace: str, workflow_id: str, run_id: uuid.UUID | None) -> RunScope:
        return await self.scope(await find_run(self.conn, namespace, workflow_id, run_id, for_update=True))

    async def scope(self, locked_run: RunRow) -> RunScope:
        """The scope of a run this transaction has locked (or has just inserted)."""
        scope = self._scopes.get(locked_run.run_id)
        if scope is None:
            scope = self._scopes[locked_run.run_id] = RunScope(self, locked_run)
        return scope

    async def flush(self) -> None:
        """Write what is still only in memory (the runs' last history seq) before the commit."""
        for scope in self._scopes.values():
            await scope.flush()

    def notify_timekeeper(self, due: datetime | None = None) -> None:
        """Something falls due at `due` (now, when not given): the timekeeper must look by then."""
        at = due or self.now
        if self.timekeeper_due is None or at < self.timekeeper_due:
            self.timekeeper_due = at


class RunScope:
    """A locked run inside a unit of work: appends history, makes tasks, closes the run."""

    def __init__(self, work: Work, run: RunRow) -> None:
        self.work = work
        self.run = run
        self.next_seq = run.last_seq + 1
        #: Whether something happened this run's code has not seen (so it needs a task).
        self.has_news = False

    @property
    def conn(self) -> AsyncConnection:
        return self.work.conn

    @property
    def now(self) -> datetime:
        return self.work.now

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    async def update(self, **values: Any) -> None:
        """Change the run's row; the history appended so far is recorded with it."""
        values = {"updated_at": self.now, "last_seq": self.last_seq, **values}
        await run_store.update(self.conn, self.run.run_id, **values)
        self.run = dataclasses.replace(self.run, **values)

    async def flush(self) -> None:
        if self.run.last_seq != self.last_seq:
            await self.update()

    async def append(self, event_type: str, attributes: dict[str, Json]) -> int:
        seq = self.next_seq
        await run_store.append_event(self.conn, self.run.run_id, seq, event_type, attributes, self.now)
        self.next_seq += 1
        return seq

    async def emit(self, data: EventData) -> None:
        await self.work.engine.outbox.add(
            self.work.tx, data, namespace=self.run.namespace, subject=f"workflows/{self.run.workflow_id}"
        )

    def ids(self) -> dict[str, str]:
        """The fields that say which run a lifecycle event is about."""
        return {
            "namespace": self.run.namespace,
            "workflow_id": self.run.workflow_id,
            "run_id": str(self.run.run_id),
        }

    async def make_task(self) -> None:
        """The run's code must see something new: give it a workflow task, or, while a worker
        holds the task, mark it so that a new one follows as soon as the lease ends."""
        self.has_news = True
        if not self.run.is_open:
            return
        if self.run.lease_token is not None:
            if not self.run.task_dirty:
                await self.update(task_dirty=True)
        elif not self.run.task_ready:
            await self.update(task_ready=True, task_ready_at=self.now)
            self.work.topics.add(workflow_task_topic(self.run.namespace, self.run.task_queue))

    async def lease_task(
        self, worker_id: str, lease_seconds: float, known_seq: int | None, **values: Any
    ) -> WorkflowTask:
        """Give the run's task to `worker_id` now, under a new token (and set `values` too); the
        worker has the run's history cached up to `known_seq`."""
        await self.update(
            **values,
            task_ready=False,
            task_dirty=False,
            lease_token=uuid.uuid4(),
            lease_worker_id=worker_id,
            lease_expires_at=self.now + timedelta(seconds=lease_seconds),
            lease_history_seq=self.last_seq,
            sticky_worker_id=worker_id,
        )
        return await build_task(self.conn, self.run, known_seq)

    async def close(
        self,
        status: str,
        event_type: str,
        attributes: dict[str, Json],
        *,
        result: Json = None,
        error: Json = None,
    ) -> None:
        """End the run for good: its last history event, no task, no pending activities or timers."""
        await self.append(event_type, attributes)
        await self.update(
            status=status,
            result=result,
            error=error,
            closed_at=self.now,
            run_deadline=None,
            task_ready=False,
            task_ready_at=None,
            **run_store.NO_LEASE,
        )
        await activity_store.cancel_pending(self.conn, self.run.run_id)
        await activity_store.cancel_pending_timers(self.conn, self.run.run_id)
        self.work.topics.add(run_closed_topic(self.run.run_id))
        if await run_store.has_open_children(self.conn, self.run.run_id):
            # Its children's parent-close policies are the timekeeper's to apply, in their own
            # transactions, so that locks are always taken child first, then parent.
            self.work.notify_timekeeper()
        if status != "CONTINUED_AS_NEW":
            await self.notify_parent(status, result, error)

    async def notify_parent(self, status: str, result: Json, error: Json) -> None:
        """A child's outcome, whatever it is, goes to its parent's history and wakes the parent."""
        run = self.run
        if run.parent_run_id is None or run.parent_child_seq is None:
            return
        parent = await self.work.lock_run(run.parent_run_id)
        if parent is None or not parent.run.is_open:
            return
        event_type, attributes = CHILD_OUTCOMES[status], {"child_seq": run.parent_child_seq}
        if status == "COMPLETED":
            attributes["result"] = result
        elif error is not None:
            attributes["error"] = error
        await parent.append(event_type, attributes)
        await parent.make_task()
