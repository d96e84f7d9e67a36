"""Activity tasks: routing, retries with backoff, timeouts, heartbeats, fencing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import Stack
from tests.workflow.worker import RawWorker, create_namespace, describe, event_types, history, start


async def scheduled(stack: Stack, ns: str, name: str, **options: Any) -> tuple[RawWorker, str]:
    """A running workflow that scheduled one activity `name`; returns a worker that runs it."""
    worker = await RawWorker(stack.client, ns, ["greet"], [name]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    command = {"type": "schedule_activity", "activity_seq": 1, "name": name, "input": "x", **options}
    result = await worker.complete(task["task_token"], [command])
    assert result["status"] == "ok"
    for eager in result["activity_tasks"]:
        assert (
            await worker.finish_activity(eager["task_token"], error={"message": "eager"})
        ).status_code == 200
    return worker, started["workflow_id"]


async def test_an_activity_is_only_claimed_by_workers_that_registered_it(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    workflow_worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns)
    task = await workflow_worker.task()
    result = await workflow_worker.complete(
        task["task_token"], [{"type": "schedule_activity", "activity_seq": 1, "name": "charge"}]
    )
    assert result["activity_tasks"] == []
    assert await workflow_worker.poll_activities() == []
    other_ns = await create_namespace(stack.client, f"{unique}-other")
    assert (
        await (
            await RawWorker(stack.client, other_ns, activity_names=["charge"]).register()
        ).poll_activities()
        == []
    )
    runner = await RawWorker(stack.client, ns, activity_names=["charge"]).register()
    (activity,) = await runner.poll_activities()
    assert activity["name"] == "charge"


async def test_a_failure_is_retried_after_its_backoff_then_final(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    retry = {"max_attempts": 2, "initial_interval": 0.5, "backoff_coefficient": 2.0}
    worker, wid = await scheduled(stack, ns, "flaky", retry=retry)
    # The eager attempt failed: attempt 2 waits its backoff, so it is not claimable yet.
    assert await worker.poll_activities() == []
    activity = await worker.activity(wait=5)
    assert activity["attempt"] == 2
    assert "ActivityFailed" not in await event_types(stack.client, ns, wid)
    await worker.finish_activity(activity["task_token"], error={"type": "Boom", "message": "again"})
    events = await history(stack.client, ns, wid)
    failed = [e for e in events if e["type"] == "ActivityFailed"]
    assert len(failed) == 1
    assert failed[0]["attributes"]["attempt"] == 2
    assert failed[0]["attributes"]["error"]["message"] == "again"


async def test_non_retryable_errors_are_final_at_once(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["charge"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    result = await worker.complete(
        task["task_token"],
        [
            {
                "type": "schedule_activity",
                "activity_seq": 1,
                "name": "charge",
                "retry": {"non_retryable_errors": ["Declined"]},
            }
        ],
    )
    (activity,) = result["activity_tasks"]
    await worker.finish_activity(activity["task_token"], error={"type": "Declined", "message": "no funds"})
    assert (await event_types(stack.client, ns, started["workflow_id"]))[-1] == "ActivityFailed"


async def test_a_stale_activity_completion_is_409(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["charge"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    result = await worker.complete(
        task["task_token"], [{"type": "schedule_activity", "activity_seq": 1, "name": "charge"}]
    )
    (activity,) = result["activity_tasks"]
    assert (await worker.finish_activity(activity["task_token"], "paid")).status_code == 200
    late = await worker.finish_activity(activity["task_token"], "paid twice")
    assert (late.status_code, late.json()["code"]) == (409, "stale_task")
    completed = [
        e for e in await history(stack.client, ns, started["workflow_id"]) if e["type"] == "ActivityCompleted"
    ]
    assert [e["attributes"]["result"] for e in completed] == ["paid"]


async def test_start_to_close_timeout_retries_then_times_out(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["slow"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    command = {
        "type": "schedule_activity",
        "activity_seq": 1,
        "name": "slow",
        "start_to_close_timeout": 0.2,
        "retry": {"max_attempts": 2, "initial_interval": 0},
    }
    first = (await worker.complete(task["task_token"], [command]))["activity_tasks"][0]
    second = await worker.activity(wait=5)
    assert second["attempt"] == 2
    late = await worker.finish_activity(first["task_token"], "too late")
    assert late.status_code == 409
    wf_task = await worker.task(wait=5)
    timed_out = wf_task["history"][-1]
    assert timed_out["type"] == "ActivityTimedOut"
    assert timed_out["attributes"] == {"activity_seq": 1, "timeout": "start_to_close", "attempt": 2}
    assert (await describe(stack.client, ns, started["workflow_id"]))["status"] == "RUNNING"


async def test_heartbeat_timeout_retries_and_heartbeats_keep_it_alive(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["beating"]).register()
    await start(stack.client, ns)
    task = await worker.task()
    command = {
        "type": "schedule_activity",
        "activity_seq": 1,
        "name": "beating",
        "heartbeat_timeout": 0.3,
        "retry": {"max_attempts": 2, "initial_interval": 0},
    }
    first = (await worker.complete(task["task_token"], [command]))["activity_tasks"][0]
    beat = await worker.heartbeat_activity(first["task_token"], {"progress": 1})
    assert beat.json()["results"][0] == {
        "task_token": first["task_token"],
        "status": "ok",
        "cancel_requested": False,
    }
    second = await worker.activity(wait=5)
    assert second["attempt"] == 2
    assert (await worker.heartbeat_activity(first["task_token"])).status_code == 409


async def test_schedule_to_start_timeout_when_nobody_claims(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns)
    task = await worker.task()
    command = {
        "type": "schedule_activity",
        "activity_seq": 1,
        "name": "unclaimed",
        "schedule_to_start_timeout": 0.2,
        "retry": {"max_attempts": 1},
    }
    await worker.complete(task["task_token"], [command])
    timed_out = (await worker.task(wait=5))["history"][-1]
    assert (timed_out["type"], timed_out["attributes"]["timeout"]) == (
        "ActivityTimedOut",
        "schedule_to_start",
    )


async def test_a_timer_fires_within_100_ms_of_its_due_time(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "start_timer", "timer_seq": 1, "seconds": 0.5}])
    fired_task = await worker.task(wait=10)
    assert fired_task["history"][-1]["type"] == "TimerFired"
    events = {e["type"]: e for e in await history(stack.client, ns, started["workflow_id"])}
    due = datetime.fromisoformat(events["TimerStarted"]["attributes"]["fire_at"])
    fired = datetime.fromisoformat(events["TimerFired"]["created_at"])
    assert 0 <= (fired - due).total_seconds() < 0.1


async def test_a_departing_workers_activity_is_handed_to_another_at_the_same_attempt(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    leaving = await RawWorker(stack.client, ns, ["greet"], ["charge"]).register()
    await start(stack.client, ns)
    task = await leaving.task()
    result = await leaving.complete(
        task["task_token"], [{"type": "schedule_activity", "activity_seq": 1, "name": "charge"}]
    )
    (first,) = result["activity_tasks"]
    assert (await stack.client.delete(f"/api/v1/workers/{leaving.worker_id}")).status_code == 204
    staying = await RawWorker(stack.client, ns, activity_names=["charge"]).register()
    again = await staying.activity(wait=5)
    assert (again["activity_seq"], again["attempt"]) == (1, 1)
    assert again["task_token"] != first["task_token"]
