"""Child workflows: started by a command, every outcome reported to the parent, parent-close policies."""

from __future__ import annotations

from typing import Any

from tests.conftest import Stack
from tests.support import eventually
from tests.workflow.worker import RawWorker, create_namespace, describe, event_types, start


def child(seq: int, workflow_id: str, **options: Any) -> dict[str, Any]:
    return {
        "type": "start_child_workflow",
        "child_seq": seq,
        "workflow_id": workflow_id,
        "workflow_type": "step",
        **options,
    }


async def parent_with_child(stack: Stack, ns: str, **options: Any) -> tuple[RawWorker, Any]:
    """A parent `p` that has started child `c`; the worker runs both types. Also returns the
    completion's result, which carries the parent's next task when there is one."""
    worker = await RawWorker(stack.client, ns, ["main-flow", "step"]).register()
    await start(stack.client, ns, workflow_type="main-flow", workflow_id="p")
    task = await worker.task()
    result = await worker.complete(task["task_token"], [child(1, "c", input=5, **options)])
    return worker, result


async def test_a_child_runs_and_its_result_reaches_the_parent(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker, _ = await parent_with_child(stack, ns)
    child_task = await worker.task()
    assert (child_task["workflow_id"], child_task["workflow_type"]) == ("c", "step")
    started = child_task["history"][0]["attributes"]
    assert (started["input"], started["parent"]["workflow_id"], started["parent"]["seq"]) == (5, "p", 1)
    await worker.complete(child_task["task_token"], [{"type": "complete_workflow", "result": 10}])
    parent_task = await worker.task()
    assert parent_task["workflow_id"] == "p"
    outcome = parent_task["history"][-1]
    assert (outcome["type"], outcome["attributes"]) == (
        "ChildWorkflowCompleted",
        {"child_seq": 1, "result": 10},
    )
    assert (await event_types(stack.client, ns, "p"))[1] == "ChildWorkflowStarted"


async def test_a_terminated_child_is_reported_to_the_parent(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker, _ = await parent_with_child(stack, ns)
    await stack.client.post("/api/v1/workflows/c/terminate", params={"namespace": ns}, json={"reason": "ops"})
    tasks = await worker.poll(max_tasks=10, wait=5)
    parent_task = next(t for t in tasks if t["workflow_id"] == "p")
    assert parent_task["history"][-1]["type"] == "ChildWorkflowTerminated"
    assert parent_task["history"][-1]["attributes"]["child_seq"] == 1


async def test_a_child_id_in_use_fails_the_child_at_once(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    await start(stack.client, ns, workflow_type="unrelated", workflow_id="c")
    _, result = await parent_with_child(stack, ns)
    outcome = result["next_task"]["history"][-1]
    assert (outcome["type"], outcome["attributes"]["error"]["type"]) == (
        "ChildWorkflowFailed",
        "WorkflowAlreadyRunning",
    )
    assert (await describe(stack.client, ns, "c"))["workflow_type"] == "unrelated"


async def test_a_child_with_another_type_at_the_same_seq_is_nondeterministic(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    worker, _ = await parent_with_child(stack, ns)
    await stack.client.post("/api/v1/workflows/p/signal/go", params={"namespace": ns}, json={})
    tasks = await worker.poll(max_tasks=10, wait=5)
    parent_task = next(t for t in tasks if t["workflow_id"] == "p")
    changed = {**child(1, "c"), "workflow_type": "other-step"}
    assert (await worker.complete(parent_task["task_token"], [changed]))["status"] == "nondeterminism"


async def test_closing_the_parent_terminates_its_children_unless_abandoned(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["main-flow", "step"]).register()
    await start(stack.client, ns, workflow_type="main-flow", workflow_id="p")
    task = await worker.task()
    commands = [
        child(1, "bound"),
        child(2, "free", parent_close_policy="abandon"),
        child(3, "asked", parent_close_policy="request_cancel"),
    ]
    await worker.complete(task["task_token"], commands)
    await stack.client.post(
        "/api/v1/workflows/p/terminate", params={"namespace": ns}, json={"reason": "stop"}
    )

    async def children_settled() -> bool:
        bound = await describe(stack.client, ns, "bound")
        return bound["status"] == "TERMINATED" and "CancelRequested" in await event_types(
            stack.client, ns, "asked"
        )

    await eventually(children_settled, what="the parent-close policies applied")
    assert (await describe(stack.client, ns, "free"))["status"] == "RUNNING"
    assert (await describe(stack.client, ns, "asked"))["status"] == "RUNNING"
