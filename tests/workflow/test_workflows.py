"""The workflows API: start, describe, list, history, signal, cancel, terminate, result."""

from __future__ import annotations

import asyncio
import json

from tests.conftest import Stack
from tests.workflow.worker import RawWorker, create_namespace, describe, event_types, history, start


async def test_start_returns_ids_and_the_run_is_running(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    started = await start(stack.client, ns, workflow_id="order-1", input=[1, 2])
    assert started["workflow_id"] == "order-1"
    run = await describe(stack.client, ns, "order-1")
    assert (run["status"], run["run_id"], run["input"], run["task_queue"]) == (
        "RUNNING",
        started["run_id"],
        [1, 2],
        "main",
    )
    assert await event_types(stack.client, ns, "order-1") == ["WorkflowStarted"]


async def test_start_without_an_id_generates_one(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    first, second = await start(stack.client, ns), await start(stack.client, ns)
    assert first["workflow_id"] and first["workflow_id"] != second["workflow_id"]


async def test_start_in_an_unknown_namespace_is_404(stack: Stack, unique: str) -> None:
    response = await stack.client.post("/api/v1/workflows", json={"namespace": unique, "workflow_type": "x"})
    assert (response.status_code, response.json()["code"]) == (404, "namespace_not_found")


async def test_a_second_start_of_an_open_id_is_409_and_changes_nothing(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    first = await start(stack.client, ns, workflow_id="w")
    again = await stack.client.post(
        "/api/v1/workflows", json={"namespace": ns, "workflow_type": "other", "workflow_id": "w"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "workflow_already_running")
    run = await describe(stack.client, ns, "w")
    assert (run["run_id"], run["workflow_type"]) == (first["run_id"], "greet")


async def test_id_reuse_policies(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_id="w")
    await stack.client.post("/api/v1/workflows/w/terminate", params={"namespace": ns}, json={"reason": "x"})
    rejected = await stack.client.post(
        "/api/v1/workflows",
        json={
            "namespace": ns,
            "workflow_type": "greet",
            "workflow_id": "w",
            "id_reuse_policy": "reject_duplicate",
        },
    )
    assert (rejected.status_code, rejected.json()["code"]) == (409, "workflow_id_reuse_rejected")
    second = await start(stack.client, ns, workflow_id="w", id_reuse_policy="allow_duplicate_failed_only")
    replaced = await start(stack.client, ns, workflow_id="w", id_reuse_policy="terminate_if_running")
    previous = await stack.client.get(
        "/api/v1/workflows/w", params={"namespace": ns, "run_id": second["run_id"]}
    )
    assert previous.json()["status"] == "TERMINATED"
    assert (await describe(stack.client, ns, "w"))["run_id"] == replaced["run_id"]


async def test_describe_an_unknown_workflow_is_404(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    response = await stack.client.get("/api/v1/workflows/nope", params={"namespace": ns})
    assert (response.status_code, response.json()["code"]) == (404, "workflow_not_found")
    events = await stack.client.get("/api/v1/workflows/nope/events", params={"namespace": ns})
    assert events.status_code == 404


async def test_list_filters_by_status_type_and_search_attributes(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_id="a", search_attributes={"env": "prod", "tier": 1})
    await start(stack.client, ns, workflow_id="b", search_attributes={"env": "prod", "tier": 2})
    await start(
        stack.client, ns, workflow_id="c", workflow_type="other", search_attributes={"env": "staging"}
    )
    await stack.client.post("/api/v1/workflows/b/terminate", params={"namespace": ns}, json={})

    async def ids(**params: str) -> list[str]:
        response = await stack.client.get("/api/v1/workflows", params={"namespace": ns, **params})
        assert response.status_code == 200, response.text
        return [item["workflow_id"] for item in response.json()["items"]]

    assert await ids() == ["c", "b", "a"]
    assert await ids(search_attributes=json.dumps({"env": "prod"})) == ["b", "a"]
    assert await ids(search_attributes=json.dumps({"env": "prod", "tier": 1})) == ["a"]
    assert await ids(search_attributes=json.dumps({"tier": "1"})) == []
    assert await ids(status="TERMINATED") == ["b"]
    assert await ids(workflow_type="other") == ["c"]
    bad = await stack.client.get("/api/v1/workflows", params={"namespace": ns, "search_attributes": "[1]"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_search_attributes")


async def test_list_pages_with_a_cursor(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    for i in range(5):
        await start(stack.client, ns, workflow_id=f"w{i}")
    seen: list[str] = []
    params: dict[str, str | int] = {"namespace": ns, "limit": 2}
    while True:
        page = (await stack.client.get("/api/v1/workflows", params=params)).json()
        seen += [item["workflow_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ["w4", "w3", "w2", "w1", "w0"]


async def test_history_pages_both_ways(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_id="w")
    for i in range(4):
        await stack.client.post(f"/api/v1/workflows/w/signal/s{i}", params={"namespace": ns}, json={})
    url = "/api/v1/workflows/w/events"
    ascending = (await stack.client.get(url, params={"namespace": ns, "after_seq": 2, "limit": 2})).json()
    assert [e["seq"] for e in ascending["events"]] == [3, 4]
    descending = (await stack.client.get(url, params={"namespace": ns, "order": "desc", "limit": 2})).json()
    assert [e["seq"] for e in descending["events"]] == [5, 4]
    older = await stack.client.get(
        url, params={"namespace": ns, "order": "desc", "limit": 2, "before_seq": 4}
    )
    assert [e["seq"] for e in older.json()["events"]] == [3, 2]


async def test_signal_is_recorded_and_makes_a_task(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_id="w")
    await worker.complete((await worker.task())["task_token"], [])
    response = await stack.client.post(
        "/api/v1/workflows/w/signal/approve", params={"namespace": ns}, json={"payload": {"by": "ada"}}
    )
    assert response.status_code == 202
    task = await worker.task()
    assert task["history"][-1]["type"] == "SignalReceived"
    assert task["history"][-1]["attributes"] == {"name": "approve", "payload": {"by": "ada"}}


async def test_signal_to_a_closed_run_is_409_and_records_nothing(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_id="w")
    await stack.client.post(
        "/api/v1/workflows/w/terminate", params={"namespace": ns}, json={"reason": "done"}
    )
    before = await event_types(stack.client, ns, "w")
    response = await stack.client.post(
        "/api/v1/workflows/w/signal/approve", params={"namespace": ns}, json={}
    )
    assert (response.status_code, response.json()["code"]) == (409, "workflow_closed")
    assert await event_types(stack.client, ns, "w") == before


async def test_signal_to_an_unknown_workflow_is_404(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    response = await stack.client.post("/api/v1/workflows/nope/signal/x", params={"namespace": ns}, json={})
    assert (response.status_code, response.json()["code"]) == (404, "workflow_not_found")


async def test_concurrent_signals_get_unique_consecutive_seqs(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_id="w")
    responses = await asyncio.gather(
        *[
            stack.client.post(
                f"/api/v1/workflows/w/signal/s{i}", params={"namespace": ns}, json={"payload": i}
            )
            for i in range(20)
        ]
    )
    assert {r.status_code for r in responses} == {202}
    seqs = [e["seq"] for e in await history(stack.client, ns, "w")]
    assert seqs == list(range(1, 22))


async def test_cancel_cancels_pending_work_and_asks_the_code(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["slow"]).register()
    await start(stack.client, ns, workflow_id="w")
    task = await worker.task()
    result = await worker.complete(
        task["task_token"],
        [
            {"type": "schedule_activity", "activity_seq": 1, "name": "slow"},
            {"type": "schedule_activity", "activity_seq": 2, "name": "never-claimed"},
            {"type": "start_timer", "timer_seq": 1, "seconds": 3600},
        ],
    )
    running = result["activity_tasks"][0]
    response = await stack.client.post(
        "/api/v1/workflows/w/cancel", params={"namespace": ns}, json={"reason": "stop"}
    )
    assert response.status_code == 202
    assert (await describe(stack.client, ns, "w"))["status"] == "RUNNING"
    heartbeat = await worker.heartbeat_activity(running["task_token"])
    assert heartbeat.json()["results"][0]["cancel_requested"] is True
    task = await worker.task()
    tail = [e["type"] for e in task["history"]][-3:]
    assert tail == ["CancelRequested", "ActivityCancelled", "TimerCancelled"]
    await worker.complete(task["task_token"], [{"type": "cancel_workflow"}])
    assert (await describe(stack.client, ns, "w"))["status"] == "CANCELLED"


async def test_terminate_records_history_and_cancels_pending_activities(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_id="w")
    task = await worker.task()
    await worker.complete(
        task["task_token"], [{"type": "schedule_activity", "activity_seq": 1, "name": "later"}]
    )
    response = await stack.client.post(
        "/api/v1/workflows/w/terminate", params={"namespace": ns}, json={"reason": "operator"}
    )
    assert response.status_code == 202
    run = await describe(stack.client, ns, "w")
    assert run["status"] == "TERMINATED"
    events = await history(stack.client, ns, "w")
    assert (events[-1]["type"], events[-1]["attributes"]) == ("WorkflowTerminated", {"reason": "operator"})
    activity_worker = await RawWorker(stack.client, ns, activity_names=["later"]).register()
    assert await activity_worker.poll_activities() == []
    again = await stack.client.post("/api/v1/workflows/w/terminate", params={"namespace": ns}, json={})
    assert (again.status_code, again.json()["code"]) == (409, "workflow_closed")


async def test_result_waits_until_the_run_closes(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_id="w")
    waiting = asyncio.create_task(
        stack.client.get("/api/v1/workflows/w/result", params={"namespace": ns, "wait_seconds": 20})
    )
    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "complete_workflow", "result": {"ok": True}}])
    response = await waiting
    assert (response.json()["status"], response.json()["result"]) == ("COMPLETED", {"ok": True})


async def test_result_of_a_running_workflow_after_the_wait_is_its_current_state(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_id="w")
    response = await stack.client.get(
        "/api/v1/workflows/w/result", params={"namespace": ns, "wait_seconds": 0}
    )
    assert response.json()["status"] == "RUNNING"


async def test_run_timeout_closes_the_run(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_id="w", run_timeout_seconds=0.2)
    response = await stack.client.get(
        "/api/v1/workflows/w/result", params={"namespace": ns, "wait_seconds": 10}
    )
    assert response.json()["status"] == "TIMED_OUT"
    assert (await event_types(stack.client, ns, "w"))[-1] == "WorkflowTimedOut"
