"""Counterparts of the original engine's tests that no other test here covers
(docs/testing.md, "Upstream inventory", maps every one of them): through the REST API with a raw
worker, and, for its end-to-end worker tests, with the Python SDK's worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from assay import workflow
from assay.client import AssayClient, WorkflowFailure
from assay.worker import Worker
from assay.workflow import WorkflowCancelled, WorkflowContext
from tests.conftest import Stack
from tests.support import eventually
from tests.workflow.worker import RawWorker, create_namespace, describe, event_types, history, start


def schedule(seq: int, name: str, **options: Any) -> dict[str, Any]:
    return {"type": "schedule_activity", "activity_seq": seq, "name": name, **options}


async def queue(stack: Stack, ns: str, task_queue: str = "main") -> dict[str, Any]:
    listed = (await stack.client.get("/api/v1/queues", params={"namespace": ns})).json()["items"]
    found: dict[str, Any] = next(q for q in listed if q["task_queue"] == task_queue)
    return found


async def signal(stack: Stack, ns: str, workflow_id: str, name: str = "go") -> None:
    response = await stack.client.post(
        f"/api/v1/workflows/{workflow_id}/signal/{name}", params={"namespace": ns}, json={}
    )
    assert response.status_code == 202, response.text


async def cancel(stack: Stack, ns: str, workflow_id: str, **request: Any) -> Any:
    return await stack.client.post(
        f"/api/v1/workflows/{workflow_id}/cancel", params={"namespace": ns}, **request
    )


@contextlib.asynccontextmanager
async def sdk_worker(
    stack: Stack, namespace: str, workflows: list[Callable[..., Any]]
) -> AsyncIterator[AssayClient]:
    """A client, and an SDK worker running `workflows` in the background."""
    async with AssayClient(stack.url, timeout=30) as client:
        worker = Worker(client, namespace, "main", workflows=workflows, shutdown_grace=5)
        running = asyncio.create_task(worker.run())
        try:
            yield client
        finally:
            await worker.shutdown()
            await running


async def sdk_event_types(client: AssayClient, namespace: str, workflow_id: str) -> list[str]:
    return [event.type for event in await client.workflows.events(workflow_id, namespace=namespace)]


@workflow.defn(name="gives-up")
async def gives_up(ctx: WorkflowContext, input: None) -> str:
    await ctx.sleep(0.01)
    raise WorkflowCancelled


@workflow.defn(name="naps-then-works")
async def naps_then_works(ctx: WorkflowContext, input: None) -> str:
    await ctx.sleep(5)
    return str(await ctx.execute_activity("work"))


# orchestration.rs: schedule_activity_creates_pending_row_and_event, schedule_activity_is_idempotent_on_seq
async def test_a_scheduled_activity_is_recorded_once_however_often_it_is_scheduled(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_id="w")
    command = schedule(1, "charge", input={"amount": 5})

    result = await worker.complete((await worker.task())["task_token"], [command])

    assert (result["status"], result["activity_tasks"]) == ("ok", [])
    events = await history(stack.client, ns, "w")
    assert [e["type"] for e in events] == ["WorkflowStarted", "ActivityScheduled"]
    scheduled = events[1]["attributes"]
    assert (scheduled["activity_seq"], scheduled["name"], scheduled["task_queue"], scheduled["input"]) == (
        1,
        "charge",
        "main",
        {"amount": 5},
    )
    assert (await describe(stack.client, ns, "w"))["status"] == "RUNNING"
    assert (await queue(stack, ns))["activities_scheduled"] == 1

    await signal(stack, ns, "w")
    again = await worker.complete((await worker.task())["task_token"], [command])

    assert again["status"] == "ok"
    assert await event_types(stack.client, ns, "w") == [
        "WorkflowStarted",
        "ActivityScheduled",
        "SignalReceived",
    ]
    assert (await queue(stack, ns))["activities_scheduled"] == 1


# orchestration.rs: complete_activity_appends_event
async def test_an_activity_completion_records_its_seq_and_result_and_the_run_goes_on(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["charge"]).register()
    await start(stack.client, ns, workflow_id="w")
    result = await worker.complete(
        (await worker.task())["task_token"], [schedule(1, "charge"), schedule(2, "charge")]
    )
    second = next(a for a in result["activity_tasks"] if a["activity_seq"] == 2)

    assert (await worker.finish_activity(second["task_token"], {"receipt": "r-2"})).status_code == 200

    completed = (await history(stack.client, ns, "w"))[-1]
    assert (completed["type"], completed["attributes"]) == (
        "ActivityCompleted",
        {"activity_seq": 2, "result": {"receipt": "r-2"}, "attempt": 1},
    )
    assert (await describe(stack.client, ns, "w"))["status"] == "RUNNING"
    task = await worker.task()
    assert task["history"][-1]["seq"] == completed["seq"]


# orchestration.rs: lua_workflow_ctx_cancel_lands_in_cancelled_status
async def test_workflow_code_that_cancels_itself_ends_cancelled_not_completed(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_id="w")

    await worker.complete((await worker.task())["task_token"], [{"type": "cancel_workflow"}])

    run = await describe(stack.client, ns, "w")
    assert (run["status"], run["result"]) == ("CANCELLED", None)
    assert run["closed_at"] is not None
    assert await event_types(stack.client, ns, "w") == ["WorkflowStarted", "WorkflowCancelled"]
    assert await worker.poll() == []


# orchestration.rs: lua_workflow_ctx_cancel_lands_in_cancelled_status (with the SDK's worker)
async def test_sdk_code_raising_workflow_cancelled_ends_the_run_cancelled(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    async with sdk_worker(stack, ns, [gives_up]) as client:
        run = await client.workflows.start("gives-up", namespace=ns)
        with pytest.raises(WorkflowFailure) as failure:
            await client.workflows.result(run.workflow_id, namespace=ns, timeout=30)
        types = await sdk_event_types(client, ns, run.workflow_id)
    assert failure.value.status == "CANCELLED"
    assert types == ["WorkflowStarted", "TimerStarted", "TimerFired", "WorkflowCancelled"]


# orchestration.rs: lua_workflow_namespace_scoping_end_to_end
async def test_a_worker_of_a_namespace_runs_the_workflows_started_there(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, f"{unique}-deployments")
    other = await create_namespace(stack.client, f"{unique}-other")
    outsider = await RawWorker(stack.client, other, ["deploy"]).register()
    worker = await RawWorker(stack.client, ns, ["deploy"]).register()
    await start(stack.client, ns, workflow_type="deploy", workflow_id="d")

    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "complete_workflow", "result": "deployed"}])

    assert (task["namespace"], task["workflow_id"]) == (ns, "d")
    run = await describe(stack.client, ns, "d")
    assert (run["namespace"], run["status"], run["result"]) == (ns, "COMPLETED", "deployed")
    assert await outsider.poll() == []
    elsewhere = await stack.client.get("/api/v1/workflows/d", params={"namespace": other})
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "workflow_not_found")


# orchestration.rs: lua_workflow_cancellation_stops_work
async def test_cancelling_a_run_during_a_timer_cancels_the_timer_and_runs_nothing_more(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["work"]).register()
    await start(stack.client, ns, workflow_id="w")
    await worker.complete(
        (await worker.task())["task_token"], [{"type": "start_timer", "timer_seq": 1, "seconds": 0.5}]
    )

    assert (await cancel(stack, ns, "w", json={"reason": "stop"})).status_code == 202

    task = await worker.task()
    assert [e["type"] for e in task["history"]][-2:] == ["CancelRequested", "TimerCancelled"]
    await worker.complete(task["task_token"], [])
    # Longer than the timer had left: it does not fire, so the run gets no task.
    assert await worker.poll(wait=0.8) == []
    await signal(stack, ns, "w", "finish")
    await worker.complete((await worker.task())["task_token"], [{"type": "cancel_workflow"}])
    assert (await describe(stack.client, ns, "w"))["status"] == "CANCELLED"
    types = await event_types(stack.client, ns, "w")
    assert "TimerFired" not in types and "ActivityScheduled" not in types
    assert await worker.poll_activities() == []


# orchestration.rs: lua_workflow_cancellation_stops_work (with the SDK's worker)
async def test_sdk_workflow_cancelled_during_a_sleep_ends_cancelled_and_runs_nothing_more(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    async with sdk_worker(stack, ns, [naps_then_works]) as client:
        run = await client.workflows.start("naps-then-works", namespace=ns)

        async def sleeping() -> bool:
            return "TimerStarted" in await sdk_event_types(client, ns, run.workflow_id)

        await eventually(sleeping, within=30, what="the workflow sleeps")
        await client.workflows.cancel(run.workflow_id, "stop", namespace=ns)
        with pytest.raises(WorkflowFailure) as failure:
            await client.workflows.result(run.workflow_id, namespace=ns, timeout=30)
        types = await sdk_event_types(client, ns, run.workflow_id)
    assert failure.value.status == "CANCELLED"
    assert types[-3:] == ["CancelRequested", "TimerCancelled", "WorkflowCancelled"]
    assert "TimerFired" not in types and "ActivityScheduled" not in types


# api_integration.rs: explicit_ascending_order_uses_default_bounded_page
async def test_a_history_page_is_bounded_by_default_whatever_the_order(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_id="w")
    timers = [{"type": "start_timer", "timer_seq": seq, "seconds": 3600} for seq in range(1, 1001)]
    await worker.complete((await worker.task())["task_token"], timers)
    url = "/api/v1/workflows/w/events"

    ascending = (await stack.client.get(url, params={"namespace": ns, "order": "asc"})).json()["events"]
    rest = (await stack.client.get(url, params={"namespace": ns, "after_seq": 1000})).json()["events"]
    descending = (await stack.client.get(url, params={"namespace": ns, "order": "desc"})).json()["events"]

    assert [e["seq"] for e in ascending] == list(range(1, 1001))
    assert [e["seq"] for e in rest] == [1001]
    assert [e["seq"] for e in descending] == list(range(1001, 1, -1))
    await stack.client.post("/api/v1/workflows/w/terminate", params={"namespace": ns}, json={})


# api_integration.rs: signal_and_cancel_workflow
async def test_signal_and_cancel_are_accepted_a_repeated_cancel_changes_nothing_and_a_closed_run_refuses(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_id="w")

    await signal(stack, ns, "w")
    first = await cancel(stack, ns, "w", json={"reason": "first"})
    second = await cancel(stack, ns, "w", json={"reason": "second"})

    assert (first.status_code, second.status_code) == (202, 202)
    events = await history(stack.client, ns, "w")
    assert [e["type"] for e in events] == ["WorkflowStarted", "SignalReceived", "CancelRequested"]
    assert events[-1]["attributes"] == {"reason": "first"}
    await worker.complete((await worker.task())["task_token"], [{"type": "cancel_workflow"}])
    closed = await cancel(stack, ns, "w")
    assert (closed.status_code, closed.json()["code"]) == (409, "workflow_closed")
    unknown = await cancel(stack, ns, "nope")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "workflow_not_found")


# api_integration.rs: cancel_accepts_any_body_shape
async def test_cancel_takes_no_body_an_empty_or_null_body_or_a_reason(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    shapes: dict[str, dict[str, Any]] = {
        "none": {},
        "empty": {"json": {}},
        "null": {"content": b"null", "headers": {"content-type": "application/json"}},
        "reason": {"json": {"reason": "no longer needed"}},
    }
    for workflow_id in shapes:
        await start(stack.client, ns, workflow_id=workflow_id)

    for workflow_id, request in shapes.items():
        response = await cancel(stack, ns, workflow_id, **request)
        assert response.status_code == 202, (workflow_id, response.text)

    for workflow_id in shapes:
        last = (await history(stack.client, ns, workflow_id))[-1]
        expected = "no longer needed" if workflow_id == "reason" else ""
        assert (last["type"], last["attributes"]) == ("CancelRequested", {"reason": expected})
    await start(stack.client, ns, workflow_id="array")
    refused = await cancel(stack, ns, "array", json=[])
    assert refused.status_code == 422
    assert await event_types(stack.client, ns, "array") == ["WorkflowStarted"]
