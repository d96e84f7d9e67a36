"""Workflow tasks: claiming, routing, fencing, determinism, atomic batches, no stalls."""

from __future__ import annotations

import asyncio

from tests.conftest import Stack
from tests.workflow.worker import RawWorker, create_namespace, describe, event_types, history, start


async def test_a_task_is_leased_to_one_worker_at_a_time(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    first = await RawWorker(stack.client, ns, ["greet"]).register()
    second = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns)
    results = await asyncio.gather(first.poll(wait=1), second.poll(wait=1))
    assert sorted(len(tasks) for tasks in results) == [0, 1]


async def test_poll_returns_a_batch(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    for _ in range(3):
        await start(stack.client, ns)
    assert len(await worker.poll(max_tasks=10)) == 3


async def test_a_long_poll_returns_as_soon_as_a_workflow_starts(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    polling = asyncio.create_task(worker.poll(wait=30))
    started = await start(stack.client, ns)
    (task,) = await polling
    assert task["workflow_id"] == started["workflow_id"]


async def test_a_worker_never_receives_another_namespaces_tasks(stack: Stack, unique: str) -> None:
    ns_a = await create_namespace(stack.client, f"{unique}-a")
    ns_b = await create_namespace(stack.client, f"{unique}-b")
    worker_a = await RawWorker(stack.client, ns_a, ["greet"]).register()
    await start(stack.client, ns_b)
    assert await worker_a.poll(wait=0.3) == []
    worker_b = await RawWorker(stack.client, ns_b, ["greet"]).register()
    assert len(await worker_b.poll()) == 1


async def test_a_worker_never_receives_a_type_it_did_not_register(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_type="billing")
    assert await worker.poll(wait=0.3) == []


async def test_a_worker_of_another_queue_receives_nothing(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], task_queue="other").register()
    await start(stack.client, ns)
    assert await worker.poll() == []


async def test_a_stale_token_is_409_and_changes_nothing(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    await worker.complete(task["task_token"], [])
    late = await worker.complete_raw(task["task_token"], [{"type": "complete_workflow", "result": 1}])
    assert (late.status_code, late.json()["code"]) == (409, "stale_task")
    assert (await describe(stack.client, ns, started["workflow_id"]))["status"] == "RUNNING"
    assert await event_types(stack.client, ns, started["workflow_id"]) == ["WorkflowStarted"]
    assert (await worker.fail(task["task_token"])).status_code == 409


async def test_another_worker_cannot_use_a_leased_token(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    owner = await RawWorker(stack.client, ns, ["greet"]).register()
    intruder = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    task = await owner.task()
    refused = await intruder.complete_raw(task["task_token"], [{"type": "complete_workflow"}])
    assert refused.status_code == 409
    assert (await describe(stack.client, ns, started["workflow_id"]))["status"] == "RUNNING"
    assert (await owner.complete(task["task_token"], []))["status"] == "ok"


async def test_nondeterministic_commands_fail_the_task_and_change_nothing(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["charge", "refund"]).register()
    started = await start(stack.client, ns)
    wid = started["workflow_id"]
    task = await worker.task()
    await worker.complete(
        task["task_token"], [{"type": "schedule_activity", "activity_seq": 1, "name": "charge"}]
    )
    await stack.client.post(f"/api/v1/workflows/{wid}/signal/go", params={"namespace": ns}, json={})
    task = await worker.task()
    before = await history(stack.client, ns, wid)
    result = await worker.complete(
        task["task_token"],
        [
            {"type": "start_timer", "timer_seq": 1, "seconds": 60},
            {"type": "schedule_activity", "activity_seq": 1, "name": "refund"},
        ],
    )
    assert result["status"] == "nondeterminism"
    after = await history(stack.client, ns, wid)
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before) :]] == ["WorkflowTaskFailed"]
    assert after[-1]["attributes"]["kind"] == "nondeterminism"
    assert (await describe(stack.client, ns, wid))["status"] == "RUNNING"


async def test_a_failed_task_is_retried_after_a_backoff(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    response = await worker.fail(task["task_token"], "exploded")
    assert response.json()["results"][0]["status"] == "ok"
    assert await worker.poll() == []
    retried = await worker.task(wait=5)
    assert retried["attempt"] == 2
    types = await event_types(stack.client, ns, started["workflow_id"])
    assert types == ["WorkflowStarted", "WorkflowTaskFailed"]


async def test_a_batch_failing_validation_applies_nothing(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    invalid = await worker.complete_raw(
        task["task_token"],
        [
            {"type": "schedule_activity", "activity_seq": 1, "name": "charge"},
            {"type": "start_timer", "timer_seq": 1, "seconds": -5},
        ],
    )
    assert invalid.status_code == 422
    after_terminal = await worker.complete_raw(
        task["task_token"],
        [{"type": "complete_workflow"}, {"type": "schedule_activity", "activity_seq": 1, "name": "charge"}],
    )
    assert (after_terminal.status_code, after_terminal.json()["code"]) == (422, "invalid_commands")
    assert await event_types(stack.client, ns, started["workflow_id"]) == ["WorkflowStarted"]
    assert (await worker.complete(task["task_token"], []))["status"] == "ok"


async def test_repeated_commands_are_no_ops(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    schedule = {"type": "schedule_activity", "activity_seq": 1, "name": "charge"}
    await worker.complete((await worker.task())["task_token"], [schedule])
    await stack.client.post(
        f"/api/v1/workflows/{started['workflow_id']}/signal/go", params={"namespace": ns}, json={}
    )
    await worker.complete((await worker.task())["task_token"], [schedule])
    assert await event_types(stack.client, ns, started["workflow_id"]) == [
        "WorkflowStarted",
        "ActivityScheduled",
        "SignalReceived",
    ]


async def test_a_side_effect_with_a_null_value_is_recorded_once(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    side_effect = {"type": "record_side_effect", "side_effect_seq": 1, "value": None}
    result = await worker.complete(task["task_token"], [side_effect])
    next_task = result["next_task"]
    assert next_task["history"][-1]["type"] == "SideEffectRecorded"
    assert next_task["history"][-1]["attributes"] == {"side_effect_seq": 1, "value": None}
    # The replay sends the same command again: nothing new, and no further task.
    again = await worker.complete(next_task["task_token"], [side_effect])
    assert again["next_task"] is None
    assert await worker.poll() == []
    types = await event_types(stack.client, ns, started["workflow_id"])
    assert types == ["WorkflowStarted", "SideEffectRecorded"]


async def test_upserting_search_attributes_does_not_stall(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns, search_attributes={"env": "prod"})
    task = await worker.task()
    upsert = {"type": "upsert_search_attributes", "attributes": {"stage": "billing"}}
    result = await worker.complete(task["task_token"], [upsert])
    assert result["next_task"] is not None
    run = await describe(stack.client, ns, started["workflow_id"])
    assert run["search_attributes"] == {"env": "prod", "stage": "billing"}
    done = await worker.complete(result["next_task"]["task_token"], [upsert, {"type": "complete_workflow"}])
    assert done["status"] == "ok"
    assert (await describe(stack.client, ns, started["workflow_id"]))["status"] == "COMPLETED"


async def test_events_during_a_lease_come_back_as_the_next_task_with_only_new_history(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    await stack.client.post(
        f"/api/v1/workflows/{started['workflow_id']}/signal/go", params={"namespace": ns}, json={}
    )
    result = await worker.complete(
        task["task_token"], [{"type": "start_timer", "timer_seq": 1, "seconds": 600}]
    )
    next_task = result["next_task"]
    assert next_task["history_from_seq"] == 2
    assert [e["type"] for e in next_task["history"]] == ["SignalReceived", "TimerStarted"]


async def test_a_cached_run_receives_only_the_new_part_of_its_history(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    await worker.complete(task["task_token"], [])
    await stack.client.post(
        f"/api/v1/workflows/{started['workflow_id']}/signal/go", params={"namespace": ns}, json={}
    )
    (task,) = await worker.poll(cached=[{"run_id": started["run_id"], "last_seq": 1}])
    assert task["history_from_seq"] == 2
    assert [e["seq"] for e in task["history"]] == [2]


async def test_deleting_a_worker_releases_its_task_at_once(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    leaving = await RawWorker(stack.client, ns, ["greet"]).register()
    staying = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns)
    task = await leaving.task()
    assert (await stack.client.delete(f"/api/v1/workers/{leaving.worker_id}")).status_code == 204
    again = await staying.task(wait=5)
    assert again["run_id"] == task["run_id"] and again["task_token"] != task["task_token"]


async def test_continue_as_new_starts_a_fresh_run(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns, workflow_id="loop", input=1)
    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "continue_as_new", "input": 2}])
    previous = await stack.client.get(
        "/api/v1/workflows/loop", params={"namespace": ns, "run_id": started["run_id"]}
    )
    assert previous.json()["status"] == "CONTINUED_AS_NEW"
    task = await worker.task()
    assert task["run_id"] != started["run_id"]
    attributes = task["history"][0]["attributes"]
    assert (attributes["input"], attributes["continued_from_run_id"]) == (2, started["run_id"])
    assert (await describe(stack.client, ns, "loop"))["run_id"] == task["run_id"]


async def test_query_state_is_the_latest_snapshot(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    url = f"/api/v1/workflows/{started['workflow_id']}/state"
    assert (await stack.client.get(url, params={"namespace": ns})).status_code == 404
    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "record_query_state", "state": {"stage": "done"}}])
    state = (await stack.client.get(url, params={"namespace": ns})).json()
    assert (state["state"], state["event_seq"]) == ({"stage": "done"}, 1)


async def test_polling_with_an_unknown_worker_is_404(stack: Stack) -> None:
    response = await stack.client.post("/api/v1/workflow-tasks/poll", json={"worker_id": "nope"})
    assert (response.status_code, response.json()["code"]) == (404, "worker_not_found")
