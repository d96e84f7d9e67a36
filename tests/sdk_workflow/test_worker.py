"""Workflows run end to end by the SDK's worker against the real engine."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, NoReturn

import pytest

from assay import workflow
from assay.client import ApiError, AssayClient, WorkflowFailure
from assay.workflow import ApplicationError, RetryPolicy, WorkflowCancelled, WorkflowContext
from tests.sdk_workflow.conftest import StartWorker
from tests.support import eventually


@workflow.activity
def greet(name: str) -> str:
    return f"hello {name}"


@workflow.activity(name="shout")
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn(name="hello")
async def hello(ctx: WorkflowContext, input: dict[str, str]) -> str:
    greeting = await ctx.execute_activity(greet, input["name"], start_to_close=10)
    return str(await ctx.execute_activity(shout, greeting, start_to_close=10))


async def event_types(client: AssayClient, namespace: str, workflow_id: str) -> list[str]:
    return [event.type for event in await client.workflows.events(workflow_id, namespace=namespace)]


def heartbeat_until_cancelled(stopped: threading.Event) -> NoReturn:
    """An activity's body that runs until the engine cancels it, then sets `stopped`."""
    try:
        while True:
            workflow.heartbeat("working")
            stopped.wait(0.05)
    except workflow.ActivityCancelled:
        stopped.set()
        raise


async def test_hello_runs_two_activities_in_sequence(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[hello], activities=[greet, shout]):
        run = await client.workflows.start("hello", {"name": "ada"}, namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == "HELLO ADA"
    types = await event_types(client, namespace, run.workflow_id)
    assert types.count("ActivityCompleted") == 2 and types[-1] == "WorkflowCompleted"


async def test_many_runs_at_once_all_complete(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    names = [f"user{i}" for i in range(25)]
    async with worker(workflows=[hello], activities=[greet, shout]):
        runs = [await client.workflows.start("hello", {"name": name}, namespace=namespace) for name in names]
        results = await asyncio.gather(
            *(client.workflows.result(run.workflow_id, namespace=namespace, timeout=60) for run in runs)
        )
    assert results == [f"HELLO {name.upper()}" for name in names]


@workflow.defn(name="approval")
async def approval(ctx: WorkflowContext, input: dict[str, Any]) -> Any:
    timeout = input.get("timeout")
    try:
        return {"approved_by": await ctx.wait_for_signal("approve", timeout=timeout)}
    except TimeoutError:
        return "timed out"


async def test_a_signal_resumes_a_waiting_workflow(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[approval]):
        run = await client.workflows.start("approval", {}, namespace=namespace)
        await client.workflows.signal(run.workflow_id, "approve", "ada", namespace=namespace)
        result = await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert result == {"approved_by": "ada"}


async def test_a_signal_before_its_timeout_wins(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[approval]):
        run = await client.workflows.start("approval", {"timeout": 60}, namespace=namespace)
        await eventually(
            lambda: _has_event(client, namespace, run.workflow_id, "TimerStarted"),
            what="the timeout timer started",
        )
        await client.workflows.signal(run.workflow_id, "approve", "ada", namespace=namespace)
        result = await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert result == {"approved_by": "ada"}
    assert "TimerCancelled" in await event_types(client, namespace, run.workflow_id)


async def test_a_timeout_without_signal_wins(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[approval]):
        run = await client.workflows.start("approval", {"timeout": 0.3}, namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == "timed out"
    assert "TimerFired" in await event_types(client, namespace, run.workflow_id)


@workflow.defn(name="nap")
async def nap(ctx: WorkflowContext, input: float) -> str:
    before = ctx.now()
    await ctx.sleep(input)
    return f"slept {(ctx.now() - before).total_seconds() >= input}"


async def test_a_durable_timer_resumes_the_workflow(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[nap]):
        run = await client.workflows.start("nap", 0.3, namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == "slept True"
    types = await event_types(client, namespace, run.workflow_id)
    assert types.index("TimerStarted") < types.index("TimerFired")


async def test_a_side_effect_runs_once_however_often_the_workflow_replays(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return len(calls)

    @workflow.defn(name="counted")
    async def counted(ctx: WorkflowContext, input: None) -> list[Any]:
        first = ctx.side_effect(count)
        nothing = ctx.side_effect(lambda: None)
        await ctx.sleep(0.1)
        greeting = await ctx.execute_activity(greet, "ada")
        return [first, nothing, greeting]

    async with worker(workflows=[counted], activities=[greet]):
        run = await client.workflows.start("counted", namespace=namespace)
        result = await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert result == [1, None, "hello ada"]
    assert calls == [1]
    assert (await event_types(client, namespace, run.workflow_id)).count("SideEffectRecorded") == 2


@workflow.activity(name="square")
def square(n: int) -> int:
    if n < 0:
        raise ApplicationError(f"{n} is negative", type="NegativeInput", non_retryable=True)
    return n * n


@workflow.defn(name="squares")
async def squares(ctx: WorkflowContext, input: list[int]) -> list[int]:
    return await ctx.gather(*(ctx.execute_activity(square, n) for n in input))


async def test_parallel_activities_return_their_results_in_order(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[squares], activities=[square]):
        run = await client.workflows.start("squares", [3, 1, 2], namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == [9, 1, 4]
    types = await event_types(client, namespace, run.workflow_id)
    assert types.count("ActivityScheduled") == 3


async def test_a_failing_parallel_activity_fails_the_workflow(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[squares], activities=[square]):
        run = await client.workflows.start("squares", [3, -1, 2], namespace=namespace)
        with pytest.raises(WorkflowFailure, match="NegativeInput") as failure:
            await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert failure.value.status == "FAILED"
    assert failure.value.error["type"] == "ActivityError"


async def test_cancelling_a_workflow_stops_its_running_activity_and_lets_it_compensate(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    started, stopped = threading.Event(), threading.Event()
    infos: list[workflow.ActivityInfo] = []

    @workflow.activity(name="crunch")
    def crunch() -> str:
        infos.append(workflow.activity_info())
        started.set()
        heartbeat_until_cancelled(stopped)

    @workflow.defn(name="long-job")
    async def long_job(ctx: WorkflowContext, input: None) -> str:
        try:
            return str(await ctx.execute_activity(crunch, heartbeat_timeout=10, start_to_close=60))
        except WorkflowCancelled:
            await ctx.execute_activity(greet, "compensation")
            raise

    async with worker(workflows=[long_job], activities=[crunch, greet]):
        run = await client.workflows.start("long-job", namespace=namespace)
        await eventually(lambda: _is_set(started), within=30, what="the activity started")
        await client.workflows.cancel(run.workflow_id, "no longer needed", namespace=namespace)
        with pytest.raises(WorkflowFailure) as failure:
            await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert failure.value.status == "CANCELLED"
    assert stopped.is_set()
    (info,) = infos
    assert (info.name, info.attempt, info.heartbeat_timeout) == ("crunch", 1, 10)
    assert info.deadline is not None and info.workflow_id == run.workflow_id
    history = await client.workflows.events(run.workflow_id, namespace=namespace)
    assert [e.attributes["result"] for e in history if e.type == "ActivityCompleted"] == [
        "hello compensation"
    ]


async def test_query_state_is_readable_while_the_workflow_waits(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    @workflow.defn(name="staged")
    async def staged(ctx: WorkflowContext, input: None) -> str:
        ctx.set_query_state("stage", "waiting for approval")
        ctx.register_query("signals_seen", lambda: 0)
        await ctx.wait_for_signal("approve")
        return "approved"

    async with worker(workflows=[staged]):
        run = await client.workflows.start("staged", namespace=namespace)

        async def recorded() -> bool:
            try:
                state = await client.workflows.query_state(run.workflow_id, namespace=namespace)
            except ApiError:
                return False
            return state.state == {"stage": "waiting for approval", "signals_seen": 0}

        await eventually(recorded, within=30, what="the query state recorded")
        await client.workflows.signal(run.workflow_id, "approve", namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == "approved"


async def test_changed_workflow_code_fails_the_task_and_leaves_the_run_running(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    @workflow.defn(name="evolving")
    async def before(ctx: WorkflowContext, input: None) -> Any:
        await ctx.execute_activity(greet, "ada")
        return await ctx.wait_for_signal("go")

    @workflow.defn(name="evolving")
    async def after(ctx: WorkflowContext, input: None) -> Any:
        await ctx.execute_activity(shout, "ada")
        return await ctx.wait_for_signal("go")

    async with worker(workflows=[before], activities=[greet]):
        run = await client.workflows.start("evolving", namespace=namespace)
        await eventually(
            lambda: _has_event(client, namespace, run.workflow_id, "ActivityCompleted"),
            what="greet completed",
        )
    async with worker(workflows=[after], activities=[shout]):
        await client.workflows.signal(run.workflow_id, "go", namespace=namespace)
        await eventually(
            lambda: _has_event(client, namespace, run.workflow_id, "WorkflowTaskFailed"),
            what="the task failed",
        )
    history = await client.workflows.events(run.workflow_id, namespace=namespace)
    (failure,) = [e.attributes for e in history if e.type == "WorkflowTaskFailed"]
    assert failure["kind"] == "nondeterminism" and "'shout'" in failure["message"]
    assert (await client.workflows.get(run.workflow_id, namespace=namespace)).status == "RUNNING"
    assert [e.type for e in history].count("ActivityScheduled") == 1


async def test_continue_as_new_hands_over_to_a_new_run(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    @workflow.defn(name="rounds")
    async def rounds(ctx: WorkflowContext, input: int) -> int:
        await ctx.sleep(0.01)
        if input < 3:
            ctx.continue_as_new(input + 1)
        return input

    async with worker(workflows=[rounds]):
        run = await client.workflows.start("rounds", 1, namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == 3
    first = await client.workflows.get(run.workflow_id, namespace=namespace, run_id=run.run_id)
    assert first.status == "CONTINUED_AS_NEW"


async def test_upserted_search_attributes_find_the_run_and_do_not_stall_it(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    @workflow.defn(name="tagged")
    async def tagged(ctx: WorkflowContext, input: str) -> str:
        ctx.upsert_search_attributes({"customer": input})
        await ctx.sleep(0.01)
        return "tagged"

    async with worker(workflows=[tagged]):
        run = await client.workflows.start("tagged", "ada", namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == "tagged"
    found = await client.workflows.list(namespace=namespace, search_attributes={"customer": "ada"})
    assert [r.run_id for r in found.items] == [run.run_id]
    assert (
        await client.workflows.list(namespace=namespace, search_attributes={"customer": "bob"})
    ).items == []
    by_type_text = await client.workflows.list(namespace=namespace, text="TAGG", task_queue="main")
    assert [r.run_id for r in by_type_text.items] == [run.run_id]
    assert (await client.workflows.list(namespace=namespace, text="TAGG", task_queue="other")).items == []


async def test_a_failing_activity_is_retried_per_its_policy(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    attempts: list[int] = []

    @workflow.activity(name="flaky")
    async def flaky() -> str:
        attempts.append(workflow.activity_info().attempt)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "finally"

    @workflow.defn(name="persistent")
    async def persistent(ctx: WorkflowContext, input: None) -> str:
        policy = RetryPolicy(max_attempts=3, initial_interval=0.05, backoff_coefficient=1.0)
        return str(await ctx.execute_activity(flaky, retry=policy))

    async with worker(workflows=[persistent], activities=[flaky]):
        run = await client.workflows.start("persistent", namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == "finally"
    assert attempts == [1, 2, 3]
    types = await event_types(client, namespace, run.workflow_id)
    assert "ActivityFailed" not in types and types.count("ActivityCompleted") == 1


async def test_a_terminated_workflow_runs_no_more_code(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[approval]):
        run = await client.workflows.start("approval", {}, namespace=namespace)
        await client.workflows.terminate(run.workflow_id, "operator said so", namespace=namespace)
        with pytest.raises(WorkflowFailure) as failure:
            await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert failure.value.status == "TERMINATED"
    with pytest.raises(ApiError) as refused:
        await client.workflows.signal(run.workflow_id, "approve", namespace=namespace)
    assert refused.value.code == "workflow_closed"


async def test_shutdown_lets_a_running_activity_finish_then_deregisters(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    started, release = threading.Event(), threading.Event()

    @workflow.activity(name="slow")
    def slow() -> str:
        started.set()
        release.wait(30)
        return "finished"

    @workflow.defn(name="slow-job")
    async def slow_job(ctx: WorkflowContext, input: None) -> str:
        return str(await ctx.execute_activity(slow))

    async with worker(workflows=[slow_job], activities=[slow]) as running:
        run = await client.workflows.start("slow-job", namespace=namespace)
        await eventually(lambda: _is_set(started), within=30, what="the activity started")
        running.request_shutdown()
        release.set()
    history = await client.workflows.events(run.workflow_id, namespace=namespace)
    assert [e.attributes["result"] for e in history if e.type == "ActivityCompleted"] == ["finished"]
    workers = await client.call("GET", "/api/v1/workers", params={"namespace": namespace})
    assert workers["items"] == []


async def test_a_removed_workers_running_activity_is_stopped_and_runs_again(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    started, stopped = threading.Event(), threading.Event()

    @workflow.activity(name="resumable")
    def resumable() -> str:
        if started.is_set():
            return "done"
        started.set()
        heartbeat_until_cancelled(stopped)

    @workflow.defn(name="resumable-job")
    async def resumable_job(ctx: WorkflowContext, input: None) -> str:
        return str(await ctx.execute_activity(resumable, heartbeat_timeout=10, start_to_close=60))

    async with worker(workflows=[resumable_job], activities=[resumable]) as running:
        run = await client.workflows.start("resumable-job", namespace=namespace)
        await eventually(lambda: _is_set(started), within=30, what="the activity started")
        # Removing the worker hands its activity back; the worker learns it from its next
        # heartbeat (its registration is gone), registers again and runs the activity anew.
        await client.call("DELETE", f"/api/v1/workers/{running.worker_id}")
        result = await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert result == "done"
    assert stopped.is_set()


async def _has_event(client: AssayClient, namespace: str, workflow_id: str, event_type: str) -> bool:
    return event_type in await event_types(client, namespace, workflow_id)


async def _is_set(event: threading.Event) -> bool:
    return event.is_set()
