"""Counterparts, on SQLite and on Postgres, of the original engine's store-contract tests
(docs/testing.md, "Upstream inventory"): the store's queries and the domain operations built on
them, without HTTP in between. Each test gets a database of its own on each backend."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from pydantic import TypeAdapter

from assay_common.db import Database, utcnow, uuid7
from assay_workflow.domain import commands as c
from assay_workflow.domain.activity_tasks import ActivityOutcome, ActivityTasks
from assay_workflow.domain.engine import Engine, WorkflowTask
from assay_workflow.domain.errors import (
    QueryStateNotFound,
    WorkerNotFound,
    WorkflowClosed,
    WorkflowNotFound,
    WorkflowNotRetryable,
)
from assay_workflow.domain.namespaces import (
    NamespaceExists,
    NamespaceNotFound,
    NamespaceProtected,
    Namespaces,
)
from assay_workflow.domain.operator import Operator, Retried
from assay_workflow.domain.queues import queue_stats
from assay_workflow.domain.timekeeper import Timekeeper
from assay_workflow.domain.workers import Registration, Workers
from assay_workflow.domain.workflow_tasks import Completion, CompletionResult, WorkflowTasks
from assay_workflow.domain.workflows import RunFilter, StartRequest, Workflows
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import activities as activity_store
from assay_workflow.store import runs as run_store
from assay_workflow.store import tables
from assay_workflow.store import workers as worker_store
from assay_workflow.store.namespaces import NamespaceUsage
from assay_workflow.store.queues import QueueStats
from assay_workflow.store.rows import ActivityRow, HistoryEvent, Json, RunRow
from tests.conftest import POSTGRES_ADMIN_URL, NatsServer, create_postgres_database, drop_postgres_database
from tests.support import eventually
from tests.workflow.engines import engine_on

COMMANDS: TypeAdapter[list[c.AnyCommand]] = TypeAdapter(list[c.AnyCommand])


@pytest.fixture
async def engine(database_url: str, unique: str, nats_server: NatsServer) -> AsyncIterator[Engine]:
    """The engine on a database of its own; no timekeeper runs unless a test runs one."""
    async with engine_on(database_url, unique, nats_server.url, WorkflowSettings()) as engine:
        yield engine


@dataclass
class Flow:
    """A worker as the domain sees it: starts runs in its namespace, takes and answers their tasks."""

    engine: Engine
    namespace: str
    worker_id: str

    @classmethod
    async def register(
        cls,
        engine: Engine,
        *,
        namespace: str = "main",
        workflow_types: tuple[str, ...] = ("greet",),
        activity_names: tuple[str, ...] = (),
    ) -> Flow:
        registration = Registration(
            "test", namespace, "main", list(workflow_types), list(activity_names), 10, 10
        )
        worker = await Workers(engine).register(registration)
        return cls(engine, namespace, worker.worker_id)

    async def start(
        self,
        workflow_id: str,
        *,
        workflow_type: str = "greet",
        input: Json = None,
        search_attributes: dict[str, Json] | None = None,
    ) -> RunRow:
        request = StartRequest(
            self.namespace,
            workflow_id,
            workflow_type,
            "main",
            input,
            search_attributes or {},
            "allow_duplicate",
            None,
        )
        return await Workflows(self.engine).start(request)

    async def poll(self, max_tasks: int = 10) -> list[WorkflowTask]:
        return await WorkflowTasks(self.engine).poll(self.worker_id, max_tasks, 0, {})

    async def task(self) -> WorkflowTask:
        (task,) = await self.poll()
        return task

    async def answer(self, task: WorkflowTask, *commands: dict[str, Json]) -> CompletionResult:
        completion = Completion(task.token, COMMANDS.validate_python(list(commands)))
        (result,) = await WorkflowTasks(self.engine).complete(self.worker_id, [completion])
        assert result.status == "ok", result
        return result

    async def next(self, *commands: dict[str, Json]) -> CompletionResult:
        """Take the one ready task and answer it with `commands`."""
        return await self.answer(await self.task(), *commands)

    async def activities(self) -> list[ActivityRow]:
        return await ActivityTasks(self.engine).poll(self.worker_id, 10, 0)

    async def finish(self, activity: ActivityRow, result: Json = None, error: Json = None) -> str:
        assert activity.lease_token is not None
        outcome = ActivityOutcome(
            activity.lease_token, result, c.ErrorInfo.model_validate(error) if error else None
        )
        (status,) = (await ActivityTasks(self.engine).complete(self.worker_id, [outcome])).statuses
        return status


def schedule(seq: int, name: str, **options: Json) -> dict[str, Json]:
    return {"type": "schedule_activity", "activity_seq": seq, "name": name, **options}


async def signal(engine: Engine, workflow_id: str, name: str = "go", payload: Json = None) -> None:
    await Workflows(engine).signal("main", workflow_id, None, name, payload)


async def read_run(engine: Engine, run_id: uuid.UUID) -> RunRow:
    async with engine.db.read() as conn:
        run = await run_store.get(conn, run_id)
    assert run is not None
    return run


async def events_of(engine: Engine, run_id: uuid.UUID) -> list[HistoryEvent]:
    async with engine.db.read() as conn:
        return await run_store.events(conn, run_id)


async def types_of(engine: Engine, run_id: uuid.UUID) -> list[str]:
    return [event.type for event in await events_of(engine, run_id)]


async def activity_of(engine: Engine, run_id: uuid.UUID, seq: int) -> ActivityRow:
    async with engine.db.read() as conn:
        activity = await activity_store.get(conn, run_id, seq)
    assert activity is not None
    return activity


async def insert_run(db: Database, workflow_id: str, *, ready: bool) -> uuid.UUID:
    """A bare open run row, straight through the store."""
    now, run_id = utcnow(), uuid7()
    async with db.transaction() as tx:
        inserted = await run_store.insert(
            tx.conn,
            {
                "run_id": run_id,
                "namespace": "main",
                "workflow_id": workflow_id,
                "workflow_type": "greet",
                "task_queue": "main",
                "status": "RUNNING",
                "search_attributes": {},
                "created_at": now,
                "updated_at": now,
                "task_ready": ready,
                "task_ready_at": now if ready else None,
                "task_dirty": False,
                "task_attempt": 1,
            },
        )
    assert inserted is not None
    return run_id


# smoke_backends.rs: namespace_roundtrip
async def test_main_exists_and_a_namespace_reads_back_as_created(engine: Engine) -> None:
    namespaces = Namespaces(engine.db, engine.outbox)
    assert (await namespaces.describe("main"))[0].name == "main"

    created = await namespaces.create("payments", "team a")

    read, _ = await namespaces.describe("payments")
    assert (read.name, read.description, read.created_at) == ("payments", "team a", created.created_at)
    with pytest.raises(NamespaceExists):
        await namespaces.create("payments", "again")
    assert [n.name for n in await namespaces.list(after=None, limit=10)] == ["main", "payments"]


# smoke_backends.rs: namespace_delete_and_stats; postgres_store.rs: pg_namespace_stats
async def test_a_namespace_is_deleted_and_its_queues_are_counted(engine: Engine) -> None:
    namespaces = Namespaces(engine.db, engine.outbox)
    await namespaces.create("payments", "")
    await namespaces.create("old", "")
    flow = await Flow.register(engine, namespace="payments", activity_names=("charge",))
    await flow.start("a")
    await flow.start("b")
    (task,) = await flow.poll(max_tasks=1)
    await flow.answer(task, schedule(1, "charge"), schedule(2, "ship", task_queue="shipping"))
    # A queue only a worker uses is listed too, on either backend.
    await Workers(engine).register(Registration("idle", "payments", "idle", ["greet"], [], 1, 1))

    assert await queue_stats(engine, "payments") == [
        QueueStats("idle", workers=1),
        QueueStats("main", workflow_tasks_ready=1, activities_running=1, workers=1),
        QueueStats("shipping", activities_scheduled=1),
    ]
    assert await queue_stats(engine, "old") == []

    _, usage = await namespaces.describe("payments")
    assert usage == NamespaceUsage(runs_by_status={"RUNNING": 2}, schedules=0, workers=2)
    await namespaces.delete("old")
    with pytest.raises(NamespaceNotFound):
        await namespaces.describe("old")
    with pytest.raises(NamespaceNotFound):
        await namespaces.delete("old")
    with pytest.raises(NamespaceProtected):
        await namespaces.delete("main")


# smoke_backends.rs: workflow_create_get_roundtrip; postgres_store.rs: pg_workflow_create_and_get
async def test_a_started_run_reads_back_as_started(engine: Engine) -> None:
    flow = await Flow.register(engine)
    input = {"sku": 7, "qty": [1, 2], "note": "ünïcode", "gift": False, "price": 9.5}

    started = await flow.start("order-1", input=input, search_attributes={"env": "prod"})

    run = await Workflows(engine).get("main", "order-1", None)
    assert run.run_id == started.run_id
    assert (run.workflow_type, run.task_queue, run.status, run.input, run.search_attributes) == (
        "greet",
        "main",
        "RUNNING",
        input,
        {"env": "prod"},
    )
    assert (run.result, run.error, run.closed_at, run.parent_run_id) == (None, None, None, None)
    (event,) = await events_of(engine, run.run_id)
    assert (event.seq, event.type, event.attributes["input"]) == (1, "WorkflowStarted", input)
    with pytest.raises(WorkflowNotFound):
        await Workflows(engine).get("main", "order-2", None)


# smoke_backends.rs: workflow_status_transitions; postgres_store.rs: pg_workflow_claim_and_status
async def test_every_way_a_run_closes_sets_its_status_and_closed_at(engine: Engine) -> None:
    flow = await Flow.register(engine)
    runs = {wid: (await flow.start(wid)).run_id for wid in ("done", "failed", "cancelled", "terminated")}
    answers: dict[str, dict[str, Json]] = {
        "done": {"type": "complete_workflow", "result": {"total": 3}},
        "failed": {"type": "fail_workflow", "error": {"type": "Boom", "message": "no"}},
        "cancelled": {"type": "cancel_workflow"},
    }
    for task in await flow.poll():
        await flow.answer(
            task, answers.get(task.run.workflow_id, {"type": "record_query_state", "state": {}})
        )
    await Workflows(engine).terminate("main", "terminated", None, "ops")

    closed = {wid: await read_run(engine, run_id) for wid, run_id in runs.items()}
    assert {wid: run.status for wid, run in closed.items()} == {
        "done": "COMPLETED",
        "failed": "FAILED",
        "cancelled": "CANCELLED",
        "terminated": "TERMINATED",
    }
    for run in closed.values():
        assert run.closed_at is not None and run.closed_at >= run.created_at
        assert (run.task_ready, run.lease_token) == (False, None)
    assert closed["done"].result == {"total": 3}
    assert closed["failed"].error == {"type": "Boom", "message": "no", "non_retryable": False}
    assert closed["terminated"].error == {"type": "Terminated", "message": "ops"}
    with pytest.raises(WorkflowClosed):
        await Workflows(engine).cancel("main", "done", None, "late")
    assert await flow.poll() == []


# smoke_backends.rs: workflow_list_with_filters; postgres_store.rs: pg_workflow_list_by_namespace
async def test_list_filters_by_namespace_status_type_and_typed_search_attributes(engine: Engine) -> None:
    await Namespaces(engine.db, engine.outbox).create("other", "")
    flow = await Flow.register(engine)
    elsewhere = await Flow.register(engine, namespace="other")
    a = await flow.start("a", search_attributes={"env": "prod", "tier": 1, "vip": True, "score": 1.5})
    b = await flow.start("b", search_attributes={"env": "prod", "tier": 2, "vip": False})
    c_ = await flow.start("c", workflow_type="other", search_attributes={"env": "staging", "tier": "1"})
    d = await elsewhere.start("d", search_attributes={"env": "prod"})
    await Workflows(engine).terminate("main", "b", None, "ops")

    async def ids(
        namespace: str = "main",
        status: str | None = None,
        workflow_type: str | None = None,
        before: uuid.UUID | None = None,
        limit: int = 10,
        **attributes: Json,
    ) -> list[uuid.UUID]:
        where = RunFilter(namespace, status, workflow_type, attributes, None, None)
        return [run.run_id for run in await Workflows(engine).find(where, before_run_id=before, limit=limit)]

    assert await ids() == [c_.run_id, b.run_id, a.run_id]
    assert await ids("other") == [d.run_id]
    assert await ids(env="prod") == [b.run_id, a.run_id]
    assert await ids(tier=1) == [a.run_id]
    assert await ids(tier="1") == [c_.run_id]
    assert await ids(vip=True) == [a.run_id]
    assert await ids(vip=False) == [b.run_id]
    assert await ids(score=1.5) == [a.run_id]
    assert await ids(env="prod", tier=2) == [b.run_id]
    assert await ids(missing="x") == []
    assert await ids(status="TERMINATED") == [b.run_id]
    assert await ids(status="RUNNING", env="prod") == [a.run_id]
    assert await ids(workflow_type="other") == [c_.run_id]
    assert await ids(limit=2) == [c_.run_id, b.run_id]
    assert await ids(before=b.run_id, limit=2) == [a.run_id]


# smoke_backends.rs: workflow_task_dispatch, workflow_claim; postgres_store.rs: pg_workflow_claim_and_status
async def test_a_workflow_task_is_claimable_once_ready_by_one_worker_and_again_once_released(
    engine: Engine,
) -> None:
    run_id = await insert_run(engine.db, "w", ready=False)

    async def claim(worker_id: str) -> list[RunRow]:
        async with engine.db.transaction() as tx:
            now = utcnow()
            return await run_store.claim_tasks(
                tx.conn,
                namespace="main",
                task_queue="main",
                workflow_types=["greet"],
                worker_id=worker_id,
                now=now,
                lease_expires_at=now + timedelta(seconds=10),
                limit=10,
            )

    async def update(**values: Any) -> None:
        async with engine.db.transaction() as tx:
            await run_store.update(tx.conn, run_id, **values)

    assert await claim("w1") == []
    await update(task_ready=True, task_ready_at=utcnow())
    (first,) = await claim("w1")
    assert (first.run_id, first.lease_worker_id, first.task_ready) == (run_id, "w1", False)
    assert first.lease_token is not None
    assert await claim("w2") == []
    await update(**run_store.released_lease(utcnow()))
    (second,) = await claim("w2")
    assert (second.lease_worker_id, second.lease_token != first.lease_token) == ("w2", True)
    assert await claim("w1") == []


# smoke_backends.rs: events_append_and_list; postgres_store.rs: pg_events_and_signals
async def test_history_is_appended_in_seq_order_read_in_pages_and_seqs_are_unique(engine: Engine) -> None:
    run_id = await insert_run(engine.db, "w", ready=True)
    kinds = ["WorkflowStarted", "SignalReceived", "TimerStarted", "SignalReceived", "TimerFired"]
    async with engine.db.transaction() as tx:
        for seq, kind in enumerate(kinds, start=1):
            await run_store.append_event(tx.conn, run_id, seq, kind, {"n": seq, "nested": [seq]}, utcnow())

    async def seqs(**query: Any) -> list[int]:
        async with engine.db.read() as conn:
            return [event.seq for event in await run_store.events(conn, run_id, **query)]

    everything = await events_of(engine, run_id)
    assert [(e.seq, e.type, e.attributes) for e in everything] == [
        (seq, kind, {"n": seq, "nested": [seq]}) for seq, kind in enumerate(kinds, start=1)
    ]
    assert await seqs(after_seq=2) == [3, 4, 5]
    assert await seqs(after_seq=2, limit=2) == [3, 4]
    assert await seqs(order="desc", limit=2) == [5, 4]
    assert await seqs(order="desc", before_seq=4, limit=2) == [3, 2]
    assert await seqs(types=("SignalReceived",)) == [2, 4]
    with pytest.raises(sa.exc.IntegrityError):
        async with engine.db.transaction() as tx:
            await run_store.append_event(tx.conn, run_id, 3, "SignalReceived", {}, utcnow())
    assert await seqs() == [1, 2, 3, 4, 5]


# smoke_backends.rs: signal_send_and_consume; postgres_store.rs: pg_events_and_signals
async def test_signals_are_buffered_in_order_and_each_gives_the_run_a_task(engine: Engine) -> None:
    flow = await Flow.register(engine)
    run = await flow.start("w")
    await signal(engine, "w", "approve", {"by": "ada"})
    await signal(engine, "w", "approve", None)

    task = await flow.task()

    assert [(e.type, e.attributes) for e in task.history[1:]] == [
        ("SignalReceived", {"name": "approve", "payload": {"by": "ada"}}),
        ("SignalReceived", {"name": "approve", "payload": None}),
    ]
    await flow.answer(task)
    assert await flow.poll() == []
    await signal(engine, "w", "reject", 3)
    assert (await flow.task()).history[-1].attributes == {"name": "reject", "payload": 3}
    with pytest.raises(WorkflowNotFound):
        await signal(engine, "nope")
    await Workflows(engine).terminate("main", "w", None, "ops")
    with pytest.raises(WorkflowClosed):
        await signal(engine, "w")
    assert (await types_of(engine, run.run_id)).count("SignalReceived") == 3


# smoke_backends.rs: search_attrs_upsert
async def test_upserted_search_attributes_merge_and_the_patch_wins(engine: Engine) -> None:
    flow = await Flow.register(engine)
    run = await flow.start("w", search_attributes={"env": "prod", "tier": 1})

    await flow.next({"type": "upsert_search_attributes", "attributes": {"tier": 2, "stage": "billing"}})

    merged = await read_run(engine, run.run_id)
    assert merged.search_attributes == {"env": "prod", "tier": 2, "stage": "billing"}
    assert (await events_of(engine, run.run_id))[-1].attributes == {
        "attributes": {"tier": 2, "stage": "billing"}
    }
    where = RunFilter("main", None, None, {"tier": 2, "env": "prod"}, None, None)
    assert [r.run_id for r in await Workflows(engine).find(where, before_run_id=None, limit=10)] == [
        run.run_id
    ]
    stale = RunFilter("main", None, None, {"tier": 1}, None, None)
    assert await Workflows(engine).find(stale, before_run_id=None, limit=10) == []


# smoke_backends.rs: activity_create_and_claim, activity_retry_on_failure
async def test_a_failed_attempt_is_scheduled_again_after_its_backoff_unclaimed(engine: Engine) -> None:
    flow = await Flow.register(engine, activity_names=("charge",))
    run = await flow.start("w")
    retry = {"max_attempts": 3, "initial_interval": 30, "backoff_coefficient": 2.0}
    (attempt,) = (await flow.next(schedule(1, "charge", input={"amount": 5}, retry=retry))).activity_tasks
    assert (attempt.status, attempt.attempt, attempt.worker_id) == ("RUNNING", 1, flow.worker_id)
    assert attempt.input == {"amount": 5}
    before = utcnow()

    assert await flow.finish(attempt, error={"type": "Declined", "message": "try later"}) == "ok"

    again = await activity_of(engine, run.run_id, 1)
    assert (again.status, again.attempt, again.lease_token, again.worker_id, again.started_at) == (
        "SCHEDULED",
        2,
        None,
        None,
        None,
    )
    assert before + timedelta(seconds=30) <= again.scheduled_at <= utcnow() + timedelta(seconds=30)
    assert again.error == {"type": "Declined", "message": "try later", "non_retryable": False}
    assert await flow.activities() == [], "the backoff is honoured"
    assert "ActivityFailed" not in await types_of(engine, run.run_id)
    assert await flow.finish(attempt, "late") == "stale"


# smoke_backends.rs: terminal_activity_retry_is_atomic_across_backends
async def test_concurrent_retries_of_a_failed_run_start_exactly_one_new_run(engine: Engine) -> None:
    flow = await Flow.register(engine, activity_names=("charge",))
    failed = await flow.start("order")
    (attempt,) = (await flow.next(schedule(1, "charge", retry={"max_attempts": 1}))).activity_tasks
    await flow.finish(attempt, error={"type": "Declined", "message": "no funds"})
    await flow.next({"type": "fail_workflow", "error": {"type": "Declined", "message": "no funds"}})
    operator = Operator(engine)

    outcomes = await asyncio.gather(
        operator.retry("main", "order", None, "ada", "card fixed"),
        operator.retry("main", "order", None, "bob", "card fixed"),
        return_exceptions=True,
    )

    (retried,) = [o for o in outcomes if isinstance(o, Retried)]
    assert [type(o) for o in outcomes if not isinstance(o, Retried)] == [WorkflowNotRetryable]
    where = RunFilter("main", None, None, {}, None, None)
    runs = await Workflows(engine).find(where, before_run_id=None, limit=10)
    assert [(r.run_id, r.status) for r in runs] == [
        (retried.run.run_id, "RUNNING"),
        (failed.run_id, "FAILED"),
    ]
    assert (await types_of(engine, retried.run.run_id)).count("ActivityRetryRequested") == 1
    (again,) = await flow.activities()
    assert (again.run_id, again.activity_seq, again.attempt) == (retried.run.run_id, 1, 1)
    assert await flow.activities() == []


# smoke_backends.rs: activity_heartbeat_timeout
async def test_timed_out_activities_are_those_past_their_deadline_at_the_given_time(engine: Engine) -> None:
    flow = await Flow.register(engine, activity_names=("beat",))
    run = await flow.start("w")
    (attempt,) = (await flow.next(schedule(1, "beat", heartbeat_timeout=30))).activity_tasks
    assert attempt.started_at is not None and attempt.timeout_at is not None
    assert attempt.timeout_at == attempt.started_at + timedelta(seconds=30)

    async def timed_out(at: Any) -> list[int]:
        async with engine.db.read() as conn:
            return [a.activity_seq for a in await activity_store.timed_out(conn, at, 10)]

    assert await timed_out(utcnow()) == []
    assert await timed_out(attempt.timeout_at + timedelta(milliseconds=1)) == [1]
    assert attempt.lease_token is not None
    (beat,) = await ActivityTasks(engine).heartbeat(flow.worker_id, [(attempt.lease_token, {"done": 1})])
    assert (beat.status, beat.cancel_requested) == ("ok", False)
    kept_alive = await activity_of(engine, run.run_id, 1)
    assert kept_alive.timeout_at is not None and kept_alive.timeout_at > attempt.timeout_at
    assert kept_alive.heartbeat_details == {"done": 1}
    assert await timed_out(kept_alive.timeout_at - timedelta(milliseconds=1)) == []


# smoke_backends.rs: activity_cancel_pending
async def test_cancelling_a_run_cancels_its_scheduled_activities_and_flags_running_ones(
    engine: Engine,
) -> None:
    flow = await Flow.register(engine, activity_names=("charge",))
    run = await flow.start("w")
    (running,) = (await flow.next(schedule(1, "charge"), schedule(2, "ship"))).activity_tasks

    await Workflows(engine).cancel("main", "w", None, "customer left")

    charge, ship = await activity_of(engine, run.run_id, 1), await activity_of(engine, run.run_id, 2)
    assert (charge.status, charge.cancel_requested) == ("RUNNING", True)
    assert ship.status == "CANCELLED"
    assert [(e.type, e.attributes) for e in (await events_of(engine, run.run_id))[-2:]] == [
        ("CancelRequested", {"reason": "customer left"}),
        ("ActivityCancelled", {"activity_seq": 2}),
    ]
    assert running.lease_token is not None
    (beat,) = await ActivityTasks(engine).heartbeat(flow.worker_id, [(running.lease_token, None)])
    assert beat.cancel_requested is True
    assert (await read_run(engine, run.run_id)).status == "RUNNING"


# smoke_backends.rs: timer_create_and_fire; postgres_store.rs: pg_timers
async def test_a_due_timer_fires_once_however_many_timekeepers_look(engine: Engine) -> None:
    flow = await Flow.register(engine)
    run = await flow.start("w")
    await flow.next({"type": "start_timer", "timer_seq": 1, "seconds": 0})
    async with engine.db.read() as conn:
        (pending,) = await activity_store.pending_timers(conn, run.run_id)
    assert pending.timer_seq == 1

    await asyncio.gather(*(Timekeeper(engine).catch_up() for _ in range(3)))
    await Timekeeper(engine).catch_up()

    async with engine.db.read() as conn:
        fired = await activity_store.get_timer(conn, run.run_id, 1)
    assert fired is not None and fired.status == "FIRED"
    assert await types_of(engine, run.run_id) == ["WorkflowStarted", "TimerStarted", "TimerFired"]
    assert (await flow.task()).history[-1].attributes == {"timer_seq": 1}


# smoke_backends.rs: timer_idempotent_on_seq
async def test_a_timer_started_again_with_its_seq_is_started_once(engine: Engine) -> None:
    flow = await Flow.register(engine)
    run = await flow.start("w")
    timer = {"type": "start_timer", "timer_seq": 1, "seconds": 3600}
    await flow.next(timer)
    async with engine.db.read() as conn:
        (first,) = await activity_store.pending_timers(conn, run.run_id)
    await signal(engine, "w")

    await flow.next(timer)

    async with engine.db.read() as conn:
        assert await activity_store.pending_timers(conn, run.run_id) == [first]
    assert await types_of(engine, run.run_id) == ["WorkflowStarted", "TimerStarted", "SignalReceived"]


# smoke_backends.rs: snapshot_create_and_get_latest
async def test_the_latest_query_state_is_the_one_read(engine: Engine) -> None:
    flow = await Flow.register(engine)
    await flow.start("w")
    with pytest.raises(QueryStateNotFound):
        await Workflows(engine).query_state("main", "w", None)
    await flow.next({"type": "record_query_state", "state": {"stage": "started"}})
    await signal(engine, "w")

    await flow.next({"type": "record_query_state", "state": {"stage": "done", "progress": 1.0}})

    state = await Workflows(engine).query_state("main", "w", None)
    assert (state.state, state.event_seq) == ({"stage": "done", "progress": 1.0}, 2)
    # A state like the last one moves its seq on and is not announced again.
    await signal(engine, "w")
    await flow.next({"type": "record_query_state", "state": {"progress": 1.0, "stage": "done"}})
    assert (await Workflows(engine).query_state("main", "w", None)).event_seq == 3
    assert await query_state_announcements(engine) == [1, 2]


async def query_state_announcements(engine: Engine) -> list[int]:
    """The `event_seq` of every `query_state_updated` event waiting in the outbox, in order."""
    async with engine.db.read() as conn:
        bodies = (await conn.execute(sa.select(tables.outbox.c.body).order_by(tables.outbox.c.id))).scalars()
        events = [json.loads(body) for body in bodies]
    return [e["data"]["event_seq"] for e in events if e["type"] == "assay.workflow.query_state_updated"]


# smoke_backends.rs: worker_register_heartbeat_list
async def test_workers_register_heartbeat_list_and_leave(engine: Engine) -> None:
    workers = Workers(engine)
    first = await workers.register(Registration("a", "main", "main", ["greet"], ["charge"], 5, 7))
    second = await workers.register(Registration("b", "main", "billing", [], ["refund"], 1, 1))

    await workers.heartbeat(first.worker_id)

    listed = {w.worker_id: w for w in await workers.list("main", after=None, limit=10)}
    assert set(listed) == {first.worker_id, second.worker_id}
    one = listed[first.worker_id]
    assert (one.identity, one.task_queue, one.workflow_types, one.activity_names) == (
        "a",
        "main",
        ["greet"],
        ["charge"],
    )
    assert (one.max_concurrent_workflow_tasks, one.max_concurrent_activities) == (5, 7)
    assert one.last_heartbeat > first.last_heartbeat
    await workers.delete(second.worker_id)
    assert [w.worker_id for w in await workers.list("main", after=None, limit=10)] == [first.worker_id]
    with pytest.raises(WorkerNotFound):
        await workers.heartbeat(second.worker_id)


# smoke_backends.rs: worker_remove_dead; postgres_store.rs: pg_workers
async def test_workers_silent_since_the_cutoff_are_removed(engine: Engine) -> None:
    workers = Workers(engine)
    silent = await workers.register(Registration("a", "main", "main", ["greet"], [], 10, 10))
    alive = await workers.register(Registration("b", "main", "main", ["greet"], [], 10, 10))
    long_ago = utcnow() - timedelta(seconds=engine.settings.worker_timeout_seconds + 30)
    async with engine.db.transaction() as tx:
        assert await worker_store.touch(tx.conn, silent.worker_id, long_ago)
    cutoff = utcnow() - timedelta(seconds=engine.settings.worker_timeout_seconds)

    async with engine.db.transaction() as tx:
        assert await worker_store.silent_since(tx.conn, cutoff, 10) == [silent.worker_id]
    await Timekeeper(engine).catch_up()

    assert [w.worker_id for w in await workers.list("main", after=None, limit=10)] == [alive.worker_id]


async def test_list_filters_by_text_queue_parent_and_worker(engine: Engine) -> None:
    flow = await Flow.register(engine, workflow_types=("Parent_Job", "step"))
    other = await Flow.register(engine, workflow_types=("step",))
    parent = await flow.start("Order-100%", workflow_type="Parent_Job")
    start_child = {
        "type": "start_child_workflow",
        "child_seq": 1,
        "workflow_id": "c1",
        "workflow_type": "step",
    }
    await flow.next(start_child)  # the flow's worker takes the parent's task, so the run sticks to it
    plain = await other.start("order-2000", workflow_type="step")

    async def ids(where: RunFilter) -> list[uuid.UUID]:
        found = await Workflows(engine).find(where, before_run_id=None, limit=10)
        return [run.run_id for run in found]

    child = await Workflows(engine).get("main", "c1", None)
    assert await ids(RunFilter("main", parent_workflow_id="Order-100%")) == [child.run_id]
    assert await ids(RunFilter("main", parent_workflow_id="order-2000")) == []
    assert await ids(RunFilter("main", text="ORDER")) == [plain.run_id, parent.run_id]
    assert await ids(RunFilter("main", text="100%")) == [parent.run_id]  # % is no wildcard here
    assert await ids(RunFilter("main", text="r-2_")) == []  # and neither is _
    assert await ids(RunFilter("main", text="parent_j")) == [parent.run_id]  # the type matches too
    assert await ids(RunFilter("main", task_queue="main")) == [plain.run_id, child.run_id, parent.run_id]
    assert await ids(RunFilter("main", task_queue="other")) == []
    assert await ids(RunFilter("main", worker_id=flow.worker_id)) == [parent.run_id]


# smoke_backends.rs: child_workflows_listing
async def test_a_child_run_records_its_parent_and_the_parent_its_child(engine: Engine) -> None:
    flow = await Flow.register(engine, workflow_types=("parent", "step"))
    parent = await flow.start("p", workflow_type="parent")
    start_child = {
        "type": "start_child_workflow",
        "child_seq": 1,
        "workflow_id": "c",
        "workflow_type": "step",
        "input": 5,
    }

    await flow.next(start_child)

    child = await Workflows(engine).get("main", "c", None)
    assert (child.parent_workflow_id, child.parent_run_id, child.parent_child_seq) == ("p", parent.run_id, 1)
    assert (child.parent_close_policy, child.input) == ("terminate", 5)
    started = (await events_of(engine, parent.run_id))[-1]
    assert (started.type, started.attributes) == (
        "ChildWorkflowStarted",
        {"child_seq": 1, "workflow_id": "c", "run_id": str(child.run_id), "workflow_type": "step"},
    )
    async with engine.db.read() as conn:
        assert await run_store.has_open_children(conn, parent.run_id)
    await flow.next({"type": "complete_workflow", "result": 10})
    assert (await events_of(engine, parent.run_id))[-1].attributes == {"child_seq": 1, "result": 10}
    async with engine.db.read() as conn:
        assert not await run_store.has_open_children(conn, parent.run_id)


# smoke_backends.rs: reaper_requeues_timed_out_activity_with_attempts_left,
# reaper_catches_activity_that_never_heartbeated, reaper_fails_workflow_when_attempts_exhausted
async def test_a_silent_activity_is_retried_then_timed_out_and_the_run_decides(engine: Engine) -> None:
    flow = await Flow.register(engine, activity_names=("beat",))
    run = await flow.start("w")
    command = schedule(1, "beat", heartbeat_timeout=0.2, retry={"max_attempts": 2, "initial_interval": 0})
    (first,) = (await flow.next(command)).activity_tasks
    timekeeper = Timekeeper(engine)

    async def status_is(status: str, attempt: int) -> bool:
        await timekeeper.catch_up()
        activity = await activity_of(engine, run.run_id, 1)
        return (activity.status, activity.attempt) == (status, attempt)

    # It never heartbeats: the timeout counts from its start.
    await eventually(lambda: status_is("SCHEDULED", 2), what="the silent attempt scheduled again")
    assert "ActivityTimedOut" not in await types_of(engine, run.run_id)
    (second,) = await flow.activities()
    assert second.attempt == 2
    assert second.lease_token is not None
    await ActivityTasks(engine).heartbeat(flow.worker_id, [(second.lease_token, None)])
    await eventually(lambda: status_is("TIMED_OUT", 2), what="the last attempt timed out")

    timed_out = (await events_of(engine, run.run_id))[-1]
    assert (timed_out.type, timed_out.attributes) == (
        "ActivityTimedOut",
        {"activity_seq": 1, "timeout": "heartbeat", "attempt": 2},
    )
    assert (await read_run(engine, run.run_id)).status == "RUNNING"
    assert (await flow.task()).history[-1].type == "ActivityTimedOut"
    assert await flow.finish(first, "late") == "stale"


# postgres_store.rs: pg_test_database_is_dropped_after_store_goes_out_of_scope
async def test_a_test_database_is_dropped_afterwards() -> None:
    url = await create_postgres_database("dropped")
    name = url.rpartition("/")[2]
    connection = await asyncpg.connect(url)
    await connection.close()

    await drop_postgres_database(url)

    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        assert await admin.fetch("SELECT 1 FROM pg_database WHERE datname = $1", name) == []
    finally:
        await admin.close()
