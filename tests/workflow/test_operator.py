"""Operator actions: continue the open run as new, retry a failed run from its failed activity."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.conftest import Stack
from tests.support import eventually, subject_messages
from tests.workflow.worker import RawWorker, create_namespace, describe, event_types, history, start


def activity(seq: int, name: str, **options: Any) -> dict[str, Any]:
    return {"type": "schedule_activity", "activity_seq": seq, "name": name, "input": name, **options}


FINAL = {"retry": {"max_attempts": 1}}
DECLINED = {"type": "Declined", "message": "no funds"}
CHILD = {"type": "start_child_workflow", "child_seq": 1, "workflow_id": "c", "workflow_type": "step"}


async def run_of(stack: Stack, ns: str, workflow_id: str, run_id: str) -> Any:
    response = await stack.client.get(
        f"/api/v1/workflows/{workflow_id}", params={"namespace": ns, "run_id": run_id}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def history_of(stack: Stack, ns: str, workflow_id: str, run_id: str) -> list[Any]:
    response = await stack.client.get(
        f"/api/v1/workflows/{workflow_id}/events", params={"namespace": ns, "run_id": run_id}
    )
    assert response.status_code == 200, response.text
    events: list[Any] = response.json()["events"]
    return events


async def continue_as_new(stack: Stack, ns: str, workflow_id: str, **body: Any) -> Any:
    return await stack.client.post(
        f"/api/v1/workflows/{workflow_id}/continue-as-new", params={"namespace": ns}, json=body
    )


async def retry(
    stack: Stack, ns: str, workflow_id: str, requested_by: str = "ada", reason: str = "card fixed"
) -> Any:
    return await stack.client.post(
        f"/api/v1/workflows/{workflow_id}/retry",
        params={"namespace": ns},
        json={"requested_by": requested_by, "reason": reason},
    )


async def failed_order(stack: Stack, ns: str) -> tuple[RawWorker, str]:
    """Workflow `order`: activity 1 `reserve` completes, activity 2 `charge` fails for good, the
    code handles it with activity 3 `refund` and then fails the run. Returns the worker (it runs
    every type and activity) and the failed run's id."""
    worker = await RawWorker(stack.client, ns, ["order"], ["reserve", "charge", "refund"]).register()
    started = await start(stack.client, ns, workflow_type="order", workflow_id="order", input={"sku": 7})
    task = await worker.task()
    (reserve,) = (await worker.complete(task["task_token"], [activity(1, "reserve")]))["activity_tasks"]
    await worker.finish_activity(reserve["task_token"], "reserved")
    task = await worker.task()
    (charge,) = (await worker.complete(task["task_token"], [activity(2, "charge", **FINAL)]))[
        "activity_tasks"
    ]
    await worker.finish_activity(charge["task_token"], error=DECLINED)
    task = await worker.task()
    (refund,) = (await worker.complete(task["task_token"], [activity(3, "refund")]))["activity_tasks"]
    await worker.finish_activity(refund["task_token"], "refunded")
    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "fail_workflow", "error": DECLINED}])
    assert (await describe(stack.client, ns, "order"))["status"] == "FAILED"
    return worker, started["run_id"]


async def fail_by_charge(worker: RawWorker, commands: list[dict[str, Any]]) -> None:
    """Answer the next workflow task with `commands` and activity 1 `charge`, which fails for
    good; then fail the run."""
    task = await worker.task()
    result = await worker.complete(task["task_token"], [*commands, activity(1, "charge", **FINAL)])
    await worker.finish_activity(result["activity_tasks"][0]["task_token"], error=DECLINED)
    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "fail_workflow", "error": DECLINED}])


async def test_continue_as_new_closes_the_open_run_and_starts_its_successor(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    old = await start(
        stack.client, ns, workflow_id="w", input={"round": 1}, search_attributes={"env": "prod"}
    )

    response = await continue_as_new(stack, ns, "w")

    assert response.status_code == 201, response.text
    new = response.json()
    assert new["workflow_id"] == "w" and new["run_id"] != old["run_id"]
    closed = await run_of(stack, ns, "w", old["run_id"])
    assert closed["status"] == "CONTINUED_AS_NEW"
    last = (await history_of(stack, ns, "w", old["run_id"]))[-1]
    assert (last["type"], last["attributes"]) == (
        "WorkflowContinuedAsNew",
        {"new_run_id": new["run_id"], "input": {"round": 1}},
    )
    run = await describe(stack.client, ns, "w")
    assert (run["run_id"], run["status"], run["input"], run["continued_from_run_id"]) == (
        new["run_id"],
        "RUNNING",
        {"round": 1},
        old["run_id"],
    )
    assert (run["workflow_type"], run["task_queue"], run["search_attributes"]) == (
        "greet",
        "main",
        {"env": "prod"},
    )
    assert await event_types(stack.client, ns, "w") == ["WorkflowStarted"]


async def test_continue_as_new_takes_the_given_input_even_null(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_id="w", input=1)

    given = await continue_as_new(stack, ns, "w", input=2)
    assert given.status_code == 201, given.text
    assert (await describe(stack.client, ns, "w"))["input"] == 2
    null = await continue_as_new(stack, ns, "w", input=None)
    assert null.status_code == 201, null.text
    assert (await describe(stack.client, ns, "w"))["input"] is None
    bodiless = await stack.client.post("/api/v1/workflows/w/continue-as-new", params={"namespace": ns})
    assert bodiless.status_code == 201, bodiless.text
    assert (await describe(stack.client, ns, "w"))["input"] is None


async def test_continue_as_new_of_a_leased_run_makes_its_task_stale(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    old = await start(stack.client, ns, workflow_id="w")
    task = await worker.task()

    assert (await continue_as_new(stack, ns, "w", run_id=old["run_id"])).status_code == 201

    late = await worker.complete_raw(task["task_token"], [{"type": "complete_workflow", "result": 1}])
    assert (late.status_code, late.json()["code"]) == (409, "stale_task")
    successor = await worker.task()
    assert successor["run_id"] != old["run_id"]
    assert (await run_of(stack, ns, "w", old["run_id"]))["status"] == "CONTINUED_AS_NEW"


async def test_continue_as_new_of_a_closed_or_unknown_workflow_is_refused(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    old = await start(stack.client, ns, workflow_id="w")
    await stack.client.post("/api/v1/workflows/w/terminate", params={"namespace": ns}, json={})

    closed = await continue_as_new(stack, ns, "w")
    of_run = await continue_as_new(stack, ns, "w", run_id=old["run_id"])
    unknown = await continue_as_new(stack, ns, "nope")

    assert (closed.status_code, closed.json()["code"]) == (409, "workflow_closed")
    assert (of_run.status_code, of_run.json()["code"]) == (409, "workflow_closed")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "workflow_not_found")
    assert (await describe(stack.client, ns, "w"))["run_id"] == old["run_id"]


async def test_retry_runs_the_failed_activity_again_in_a_new_run(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker, failed_run_id = await failed_order(stack, ns)
    failed_history = await history_of(stack, ns, "order", failed_run_id)
    boundary = next(e["seq"] for e in failed_history if e["type"] == "ActivityFailed")

    response = await retry(stack, ns, "order", requested_by="  ada  ", reason="card fixed")

    assert response.status_code == 200, response.text
    retried = response.json()
    new_run_id = retried["run_id"]
    assert retried == {
        "workflow_id": "order",
        "run_id": new_run_id,
        "failed_run_id": failed_run_id,
        "activity_seq": 2,
        "status": "RUNNING",
    }
    assert (await run_of(stack, ns, "order", failed_run_id))["status"] == "FAILED"
    assert await history_of(stack, ns, "order", failed_run_id) == failed_history
    run = await describe(stack.client, ns, "order")
    assert (run["run_id"], run["status"], run["input"], run["continued_from_run_id"]) == (
        new_run_id,
        "RUNNING",
        {"sku": 7},
        failed_run_id,
    )
    events = await history(stack.client, ns, "order")
    assert [e["seq"] for e in events] == list(range(1, boundary + 1))
    kept = [(e["type"], e["attributes"]) for e in failed_history[1 : boundary - 1]]
    assert [(e["type"], e["attributes"]) for e in events[1:-1]] == kept
    assert [e["type"] for e in events] == [
        "WorkflowStarted",
        "ActivityScheduled",
        "ActivityCompleted",
        "ActivityScheduled",
        "ActivityRetryRequested",
    ]
    assert events[-1]["attributes"] == {
        "activity_seq": 2,
        "name": "charge",
        "failed_run_id": failed_run_id,
        "requested_by": "ada",
        "reason": "card fixed",
    }

    # The new run's code replays the kept history: repeating its commands changes nothing.
    task = await worker.task()
    assert (task["run_id"], [e["type"] for e in task["history"]]) == (new_run_id, [e["type"] for e in events])
    replayed = await worker.complete(
        task["task_token"], [activity(1, "reserve"), activity(2, "charge", **FINAL)]
    )
    assert (replayed["status"], replayed["activity_tasks"]) == ("ok", [])
    assert len(await history(stack.client, ns, "order")) == len(events)

    charge = await worker.activity()
    assert (charge["run_id"], charge["activity_seq"], charge["name"], charge["attempt"]) == (
        new_run_id,
        2,
        "charge",
        1,
    )
    assert await worker.poll_activities() == []  # once, and no refund: that branch is gone
    await worker.finish_activity(charge["task_token"], "paid")
    task = await worker.task()
    assert (task["history"][-1]["type"], task["history"][-1]["attributes"]["result"]) == (
        "ActivityCompleted",
        "paid",
    )
    await worker.complete(task["task_token"], [{"type": "complete_workflow", "result": "shipped"}])
    run = await describe(stack.client, ns, "order")
    assert (run["run_id"], run["status"], run["result"]) == (new_run_id, "COMPLETED", "shipped")
    assert "refund" not in [e["attributes"].get("name") for e in await history(stack.client, ns, "order")]


async def test_retry_publishes_workflow_retried(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    _, failed_run_id = await failed_order(stack, ns)

    retried = (await retry(stack, ns, "order", requested_by="ada")).json()

    subject = stack.subjects.event("workflow", ns, "workflow_retried")

    async def published() -> bool:
        messages = await subject_messages(stack.nats.url, stack.subjects.events_stream, subject)
        return len(messages) == 1

    await eventually(published, what="workflow_retried on the stream")
    (message,) = await subject_messages(stack.nats.url, stack.subjects.events_stream, subject)
    assert message.data is not None
    data = json.loads(message.data)["data"]
    assert data == {
        "namespace": ns,
        "workflow_id": "order",
        "run_id": retried["run_id"],
        "failed_run_id": failed_run_id,
        "activity_seq": 2,
        "requested_by": "ada",
    }


async def test_retry_starts_again_the_timers_still_pending_at_the_failure(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["charge"]).register()
    await start(stack.client, ns, workflow_id="w")
    await fail_by_charge(worker, [{"type": "start_timer", "timer_seq": 1, "seconds": 1.5}])
    assert "TimerFired" not in await event_types(stack.client, ns, "w")

    assert (await retry(stack, ns, "w")).status_code == 200

    async def fired() -> bool:
        return "TimerFired" in await event_types(stack.client, ns, "w")

    await eventually(fired, what="the timer started before the failure fires in the new run")
    assert (await describe(stack.client, ns, "w"))["status"] == "RUNNING"


async def test_retry_is_refused_unless_the_latest_run_failed_because_of_an_activity(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    await start(stack.client, ns, workflow_type="idle", workflow_id="running")
    await start(stack.client, ns, workflow_id="failed")
    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "fail_workflow", "error": DECLINED}])

    running = await retry(stack, ns, "running")
    no_activity = await retry(stack, ns, "failed")
    unknown = await retry(stack, ns, "nope")

    assert (running.status_code, running.json()["code"]) == (409, "workflow_not_retryable")
    assert "RUNNING" in running.json()["detail"]
    assert (no_activity.status_code, no_activity.json()["code"]) == (409, "workflow_not_retryable")
    assert "activity" in no_activity.json()["detail"]
    assert (unknown.status_code, unknown.json()["code"]) == (404, "workflow_not_found")
    assert (await describe(stack.client, ns, "failed"))["status"] == "FAILED"


async def test_only_the_latest_run_can_be_retried_and_only_once(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    _, failed_run_id = await failed_order(stack, ns)
    assert (await retry(stack, ns, "order")).status_code == 200

    again = await retry(stack, ns, "order")
    old_run = await stack.client.post(
        "/api/v1/workflows/order/retry",
        params={"namespace": ns, "run_id": failed_run_id},
        json={"requested_by": "ada", "reason": "again"},
    )

    assert (again.status_code, again.json()["code"]) == (409, "workflow_not_retryable")
    assert (old_run.status_code, old_run.json()["code"]) == (409, "workflow_not_retryable")
    assert "latest" in old_run.json()["detail"]


async def test_a_child_workflow_cannot_be_retried(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["parent", "step"], ["charge"]).register()
    await start(stack.client, ns, workflow_type="parent", workflow_id="p")
    task = await worker.task()
    await worker.complete(task["task_token"], [CHILD])
    await fail_by_charge(worker, [])  # the child's task: the parent waits for it

    response = await retry(stack, ns, "c")

    assert (response.status_code, response.json()["code"]) == (409, "workflow_not_retryable")
    assert "child" in response.json()["detail"]
    assert (await describe(stack.client, ns, "c"))["status"] == "FAILED"


async def test_a_run_with_a_child_open_at_the_failure_cannot_be_retried(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["parent"], ["charge"]).register()
    await start(stack.client, ns, workflow_type="parent", workflow_id="p")
    await fail_by_charge(worker, [CHILD])

    response = await retry(stack, ns, "p")

    assert (response.status_code, response.json()["code"]) == (409, "workflow_not_retryable")
    assert "child" in response.json()["detail"]
    assert (await describe(stack.client, ns, "p"))["status"] == "FAILED"


async def test_retry_needs_who_and_why(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    _, failed_run_id = await failed_order(stack, ns)

    blank_requester = await retry(stack, ns, "order", requested_by="   ")
    blank_reason = await retry(stack, ns, "order", reason="")
    missing = await stack.client.post(
        "/api/v1/workflows/order/retry", params={"namespace": ns}, json={"requested_by": "ada"}
    )

    for response in (blank_requester, blank_reason, missing):
        assert (response.status_code, response.json()["code"]) == (422, "invalid")
    assert (await describe(stack.client, ns, "order"))["run_id"] == failed_run_id


async def test_concurrent_retries_start_one_run(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    _, failed_run_id = await failed_order(stack, ns)

    first, second = await asyncio.gather(retry(stack, ns, "order"), retry(stack, ns, "order"))

    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "workflow_not_retryable"
    runs = (await stack.client.get("/api/v1/workflows", params={"namespace": ns})).json()["items"]
    winner = first if first.status_code == 200 else second
    assert [r["run_id"] for r in runs] == [winner.json()["run_id"], failed_run_id]
