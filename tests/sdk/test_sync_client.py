"""`SyncAssayClient`: the blocking client against the real platform. It is called from threads
(`asyncio.to_thread`) while the test's loop runs a worker, as a program without asyncio would."""

from __future__ import annotations

import contextlib
import inspect
import threading
from asyncio import create_task, to_thread
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

import pytest

from assay import workflow
from assay.client import (
    ApiError,
    ApiUnreachable,
    AssayClient,
    Namespace,
    Namespaces,
    NamespaceUsage,
    Permissions,
    Queues,
    Schedules,
    StartedWorkflow,
    SyncAssayClient,
    SyncEventStream,
    Workers,
    WorkflowFailure,
    WorkflowRun,
    Workflows,
)
from assay.events import Event
from assay.local import free_port
from assay.worker import Worker
from assay.workflow import ApplicationError, RetryPolicy, WorkflowContext
from tests.conftest import Stack
from tests.support import eventually

CREATED = "assay.workflow.namespace_created"
#: Whether `flaky` fails; a test "fixes" it between the failure and the retry.
failing = {"flaky": True}


@workflow.activity
def greet(name: str) -> str:
    return f"hello {name}"


@workflow.activity(name="flaky")
def flaky(input: None) -> str:
    if failing["flaky"]:
        raise ApplicationError("not yet", type="NotYet")
    return "fixed"


@workflow.defn(name="hello")
async def hello(ctx: WorkflowContext, input: dict[str, str]) -> str:
    return str(await ctx.execute_activity(greet, input["name"], start_to_close=10))


@workflow.defn(name="waiter")
async def waiter(ctx: WorkflowContext, input: Any) -> Any:
    ctx.set_query_state("stage", "waiting")
    return {"input": input, "signal": await ctx.wait_for_signal("go")}


@workflow.defn(name="parent")
async def parent(ctx: WorkflowContext, input: None) -> Any:
    return await ctx.execute_child_workflow(hello, {"name": "child"})


@workflow.defn(name="fragile")
async def fragile(ctx: WorkflowContext, input: None) -> str:
    return str(await ctx.execute_activity(flaky, None, start_to_close=10, retry=RetryPolicy(max_attempts=1)))


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[SyncAssayClient]:
    client = await to_thread(SyncAssayClient, stack.url, timeout=30)
    yield client
    await to_thread(client.close)


@pytest.fixture
async def namespace(client: SyncAssayClient, unique: str) -> str:
    await to_thread(client.namespaces.create, unique)
    return unique


class StartWorker(Protocol):
    def __call__(self) -> contextlib.AbstractAsyncContextManager[Worker]: ...


@pytest.fixture
def worker(stack: Stack, namespace: str) -> StartWorker:
    """`async with worker():` an SDK worker running every workflow of this module on the test's loop."""

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[Worker]:
        async with AssayClient(stack.url, timeout=30) as async_client:
            started = Worker(
                async_client,
                namespace,
                workflows=[hello, waiter, parent, fragile],
                activities=[greet, flaky],
                shutdown_grace=5,
            )
            task = create_task(started.run())
            try:
                yield started
            finally:
                await started.shutdown()
                await task

    return running


def public_methods(cls: type) -> Iterable[str]:
    return [name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")]


def test_every_method_of_the_async_client_has_a_blocking_twin() -> None:
    """Same names, same parameters (names, kinds, defaults, annotations), same result types."""
    with SyncAssayClient(f"http://127.0.0.1:{free_port()}") as client:
        pairs = [
            (Workflows, type(client.workflows)),
            (Namespaces, type(client.namespaces)),
            (Workers, type(client.workers)),
            (Queues, type(client.queues)),
            (Permissions, type(client.permissions)),
            (Schedules, type(client.schedules)),
        ]
    for async_class, sync_class in pairs:
        assert public_methods(sync_class) == public_methods(async_class)
        for name in public_methods(async_class):
            method = getattr(sync_class, name)
            assert inspect.signature(method) == inspect.signature(getattr(async_class, name)), name
            assert not inspect.iscoroutinefunction(method)
    renamed = {"aclose": "close"}
    names = public_methods(AssayClient)
    assert sorted(public_methods(SyncAssayClient)) == sorted(renamed.get(name, name) for name in names)
    for name in [*names, "__init__"]:
        sync_parameters = inspect.signature(getattr(SyncAssayClient, renamed.get(name, name))).parameters
        assert sync_parameters == inspect.signature(getattr(AssayClient, name)).parameters, name


async def test_a_workflow_starts_and_its_result_comes_back(
    client: SyncAssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker():
        run = await to_thread(client.workflows.start, "hello", {"name": "ada"}, namespace=namespace)
        assert isinstance(run, StartedWorkflow)
        result = await to_thread(client.workflows.result, run.workflow_id, namespace=namespace, timeout=30)
    assert result == "hello ada"

    described = await to_thread(client.workflows.get, run.workflow_id, namespace=namespace)
    assert isinstance(described, WorkflowRun)
    assert (described.run_id, described.status, described.result) == (run.run_id, "COMPLETED", "hello ada")
    page = await to_thread(client.workflows.list, namespace=namespace, workflow_type="hello")
    assert [item.workflow_id for item in page.items] == [run.workflow_id]
    history = await to_thread(client.workflows.events, run.workflow_id, namespace=namespace)
    assert history[0].type == "WorkflowStarted" and history[-1].type == "WorkflowCompleted"
    assert [event.seq for event in history] == sorted(event.seq for event in history)
    closed = await to_thread(client.workflows.wait_closed, run.workflow_id, 1, namespace=namespace)
    assert closed.status == "COMPLETED"


async def test_a_parent_lists_its_children(
    client: SyncAssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker():
        run = await to_thread(client.workflows.start, "parent", namespace=namespace)
        result = await to_thread(client.workflows.result, run.workflow_id, namespace=namespace, timeout=30)
    assert result == "hello child"
    (child,) = await to_thread(client.workflows.children, run.workflow_id, namespace=namespace)
    assert (child.workflow_type, child.status, child.result) == ("hello", "COMPLETED", "hello child")


async def test_query_state_and_a_signal_reach_a_waiting_run(
    client: SyncAssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker():
        run = await to_thread(client.workflows.start, "waiter", 1, namespace=namespace)

        async def recorded() -> bool:
            try:
                state = await to_thread(client.workflows.query_state, run.workflow_id, namespace=namespace)
            except ApiError as exc:
                if exc.code != "query_state_not_found":
                    raise
                return False
            return state.state == {"stage": "waiting"}

        await eventually(recorded, within=30, what="the query state recorded")
        await to_thread(client.workflows.signal, run.workflow_id, "go", "ada", namespace=namespace)
        result = await to_thread(client.workflows.result, run.workflow_id, namespace=namespace, timeout=30)
    assert result == {"input": 1, "signal": "ada"}


async def test_cancel_terminate_and_continue_as_new_close_runs(
    client: SyncAssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker():
        cancelled, terminated = [
            await to_thread(client.workflows.start, "waiter", namespace=namespace) for _ in range(2)
        ]
        await to_thread(
            client.workflows.cancel, cancelled.workflow_id, "no longer needed", namespace=namespace
        )
        with pytest.raises(WorkflowFailure) as failure:
            await to_thread(client.workflows.result, cancelled.workflow_id, namespace=namespace, timeout=30)
        assert failure.value.status == "CANCELLED"

        successor = await to_thread(
            client.workflows.continue_as_new, terminated.workflow_id, 2, namespace=namespace
        )
        assert successor.run_id != terminated.run_id
        await to_thread(client.workflows.terminate, terminated.workflow_id, "enough", namespace=namespace)
        with pytest.raises(WorkflowFailure) as failure:
            await to_thread(client.workflows.result, terminated.workflow_id, namespace=namespace, timeout=30)
        assert failure.value.status == "TERMINATED" and failure.value.run.input == 2

    first = await to_thread(
        client.workflows.get, terminated.workflow_id, namespace=namespace, run_id=terminated.run_id
    )
    assert first.status == "CONTINUED_AS_NEW"
    with pytest.raises(ApiError) as closed:
        await to_thread(client.workflows.signal, cancelled.workflow_id, "go", namespace=namespace)
    assert (closed.value.status, closed.value.code) == (409, "workflow_closed")


async def test_a_failed_run_is_retried(client: SyncAssayClient, namespace: str, worker: StartWorker) -> None:
    failing["flaky"] = True
    async with worker():
        run = await to_thread(client.workflows.start, "fragile", namespace=namespace)
        with pytest.raises(WorkflowFailure, match="NotYet"):
            await to_thread(client.workflows.result, run.workflow_id, namespace=namespace, timeout=30)
        failing["flaky"] = False
        retried = await to_thread(
            client.workflows.retry, run.workflow_id, requested_by="ada", reason="fixed", namespace=namespace
        )
        assert (retried.failed_run_id, retried.activity_seq) == (run.run_id, 1)
        result = await to_thread(client.workflows.result, run.workflow_id, namespace=namespace, timeout=30)
    assert result == "fixed"


async def test_workers_and_queues_are_listed(
    client: SyncAssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker() as running:

        async def registered() -> bool:
            page = await to_thread(client.workers.list, namespace=namespace)
            return [w.identity for w in page.items] == [running.identity]

        await eventually(registered, within=30, what="the worker registered")
        (queue,) = await to_thread(client.queues.list, namespace=namespace)
    assert (queue.task_queue, queue.workers) == ("main", 1)


async def test_namespaces_are_created_listed_and_deleted(client: SyncAssayClient, unique: str) -> None:
    created = await to_thread(client.namespaces.create, unique, "for the sync client")
    assert isinstance(created, Namespace) and created.description == "for the sync client"
    described = await to_thread(client.namespaces.get, unique)
    assert described.usage == NamespaceUsage(runs_by_status={}, schedules=0, workers=0)
    assert described.model_copy(update={"usage": None}) == created

    names: list[str] = []
    cursor: str | None = None
    while True:
        page = await to_thread(client.namespaces.list, limit=20, cursor=cursor)
        names += [item.name for item in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert unique in names and len(names) == len(set(names))

    await to_thread(client.namespaces.delete, unique)
    with pytest.raises(ApiError) as missing:
        await to_thread(client.namespaces.get, unique)
    error = missing.value
    assert (error.status, error.code, error.title) == (404, "namespace_not_found", "No such namespace")
    assert error.detail is not None and unique in error.detail
    assert error.problem["status"] == 404 and error.problem["code"] == "namespace_not_found"


async def test_health_and_a_raw_call(client: SyncAssayClient, namespace: str) -> None:
    health = await to_thread(client.health)
    assert health.is_healthy
    answer = await to_thread(client.call, "GET", f"/api/v1/namespaces/{namespace}")
    assert answer["name"] == namespace
    with pytest.raises(ApiError) as missing:
        await to_thread(client.workflows.get, "no-such-workflow", namespace=namespace)
    assert (missing.value.status, missing.value.code) == (404, "workflow_not_found")


async def test_nothing_listening_is_api_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    def health() -> None:
        with SyncAssayClient(url, timeout=5) as client:
            client.health()

    with pytest.raises(ApiUnreachable) as unreachable:
        await to_thread(health)
    assert unreachable.value.api_url == url


async def test_the_event_stream_yields_live_events(client: SyncAssayClient, unique: str) -> None:
    def first_event() -> tuple[Event, int | None]:
        with client.event_stream(types=[CREATED], namespace=unique) as stream:
            client.namespaces.create(unique)
            event = next(stream)
            return event, stream.last_sequence

    event, last_sequence = await to_thread(first_event)
    assert (event.type, event.namespace, event.subject) == (CREATED, unique, f"namespaces/{unique}")
    assert last_sequence == event.sequence

    def replayed() -> Event:
        with client.event_stream(types=[CREATED], namespace=unique, after=event.sequence - 1) as stream:
            return next(iter(stream))

    assert (await to_thread(replayed)).id == event.id


async def test_an_invalid_event_filter_is_an_api_error(client: SyncAssayClient) -> None:
    stream = client.event_stream(types=["namespace_created"])
    assert isinstance(stream, SyncEventStream)
    with pytest.raises(ApiError) as invalid:
        await to_thread(stream.__enter__)
    assert invalid.value.status == 422
    with pytest.raises(RuntimeError, match=r"inside `with client\.event_stream"):
        next(stream)


async def test_close_stops_the_clients_thread(stack: Stack) -> None:
    def lifecycle() -> tuple[SyncAssayClient, set[threading.Thread]]:
        before = set(threading.enumerate())
        client = SyncAssayClient(stack.url)
        assert client.health().is_healthy
        started = set(threading.enumerate()) - before
        client.close()
        client.close()
        return client, started

    client, started = await to_thread(lifecycle)
    assert started and not any(thread.is_alive() for thread in started)
    with pytest.raises(RuntimeError, match="closed"):
        client.health()
