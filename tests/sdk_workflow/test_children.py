"""Child workflows: replayed on hand-built histories, then run end to end against the engine."""

from __future__ import annotations

from typing import Any

import pytest

from assay import workflow
from assay.client import ApiError, AssayClient, WorkflowFailure
from assay.workflow import ChildWorkflowError, ParentClosePolicy, WorkflowCancelled, WorkflowContext
from tests.sdk_workflow.conftest import StartWorker
from tests.sdk_workflow.histories import INFO, History, kinds
from tests.support import eventually


def child_id(seq: int) -> str:
    """The workflow id the SDK gives the parent's `seq`th child by default."""
    return f"{INFO.workflow_id}-{INFO.run_id}-child-{seq}"


FIRST_CHILD_ID = child_id(1)


@workflow.defn(name="charge")
async def charge(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    if input["amount"] > 100:
        raise workflow.ApplicationError("the card was declined", type="CardDeclined")
    return {"charged": input["amount"]}


@workflow.defn(name="order")
async def order(ctx: WorkflowContext, input: dict[str, Any]) -> Any:
    try:
        receipt = await ctx.execute_child_workflow(charge, {"amount": input["amount"]})
    except ChildWorkflowError as exc:
        return {"error": exc.kind, "type": exc.type, "message": exc.message}
    return {"receipt": receipt}


def started(history: History, seq: int, workflow_id: str, workflow_type: str = "charge") -> History:
    return history.add(
        "ChildWorkflowStarted",
        child_seq=seq,
        workflow_id=workflow_id,
        run_id=f"run-of-{workflow_id}",
        workflow_type=workflow_type,
    )


def test_the_first_task_starts_the_child_with_a_deterministic_id() -> None:
    outcome = History({"amount": 5}).replay(order)
    assert outcome.commands == [
        {
            "type": "start_child_workflow",
            "child_seq": 1,
            "workflow_id": FIRST_CHILD_ID,
            "workflow_type": "charge",
            "input": {"amount": 5},
            "parent_close_policy": "terminate",
        }
    ]
    assert History({"amount": 5}).replay(order).commands == outcome.commands


def test_child_options_become_command_fields() -> None:
    async def parent(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_child_workflow(
            "charge", 1, workflow_id="charge-7", task_queue="payments", parent_close_policy="abandon"
        )

    (command,) = History().replay(parent).commands
    assert command == {
        "type": "start_child_workflow",
        "child_seq": 1,
        "workflow_id": "charge-7",
        "workflow_type": "charge",
        "input": 1,
        "task_queue": "payments",
        "parent_close_policy": "abandon",
    }


def test_a_started_child_is_not_started_again_while_it_runs() -> None:
    assert started(History({"amount": 5}), 1, FIRST_CHILD_ID).replay(order).commands == []


def test_the_parent_gets_the_childs_result() -> None:
    history = started(History({"amount": 5}), 1, FIRST_CHILD_ID)
    history.add("ChildWorkflowCompleted", child_seq=1, result={"charged": 5})
    assert history.replay(order).commands == [
        {"type": "complete_workflow", "result": {"receipt": {"charged": 5}}}
    ]


@pytest.mark.parametrize(
    ("event", "attributes", "expected"),
    [
        (
            "ChildWorkflowFailed",
            {"error": {"type": "CardDeclined", "message": "the card was declined"}},
            {"error": "failed", "type": "CardDeclined", "message": "the card was declined"},
        ),
        (
            "ChildWorkflowCancelled",
            {},
            {"error": "cancelled", "type": "WorkflowCancelled", "message": "the child workflow cancelled"},
        ),
        (
            "ChildWorkflowTerminated",
            {"error": {"type": "Terminated", "message": "by hand"}},
            {"error": "terminated", "type": "Terminated", "message": "by hand"},
        ),
        (
            "ChildWorkflowTimedOut",
            {},
            {"error": "timed_out", "type": "WorkflowTimedOut", "message": "the child workflow timed out"},
        ),
    ],
)
def test_a_child_that_does_not_complete_raises_in_the_parent(
    event: str, attributes: dict[str, Any], expected: dict[str, str]
) -> None:
    history = started(History({"amount": 500}), 1, FIRST_CHILD_ID).add(event, child_seq=1, **attributes)
    assert history.replay(order).commands == [{"type": "complete_workflow", "result": expected}]


def test_a_child_whose_id_is_taken_fails_without_starting() -> None:
    error = {"type": "WorkflowAlreadyRunning", "message": "taken", "non_retryable": True}
    history = History({"amount": 5}).add(
        "ChildWorkflowFailed", child_seq=1, workflow_type="charge", error=error
    )
    assert history.replay(order).commands == [
        {
            "type": "complete_workflow",
            "result": {"error": "failed", "type": "WorkflowAlreadyRunning", "message": "taken"},
        }
    ]


def test_children_and_activities_started_together_run_in_parallel() -> None:
    async def fan_out(ctx: WorkflowContext, input: Any) -> list[Any]:
        return await ctx.gather(
            ctx.execute_child_workflow("charge", 1),
            ctx.execute_activity("reserve", 2),
            ctx.execute_child_workflow("charge", 3),
        )

    history = History()
    first = history.replay(fan_out)
    assert kinds(first) == ["start_child_workflow", "schedule_activity", "start_child_workflow"]
    assert [c.get("child_seq") for c in first.commands] == [1, None, 2]
    started(history.scheduled(1, "reserve"), 1, child_id(1))
    started(history, 2, child_id(2)).add("ChildWorkflowCompleted", child_seq=2, result="c")
    history.completed(1, "r").add("ChildWorkflowCompleted", child_seq=1, result="a")
    assert history.replay(fan_out).commands == [{"type": "complete_workflow", "result": ["a", "r", "c"]}]


def test_a_failing_child_fails_the_gather_that_waits_on_it() -> None:
    async def fan_out(ctx: WorkflowContext, input: Any) -> list[Any]:
        return await ctx.gather(
            ctx.execute_child_workflow("charge", 1), ctx.execute_child_workflow("charge", 2)
        )

    history = started(started(History(), 1, child_id(1)), 2, child_id(2))
    history.add("ChildWorkflowFailed", child_seq=2, error={"type": "CardDeclined", "message": "no"})
    (command,) = history.replay(fan_out).commands
    assert command["type"] == "fail_workflow"
    assert command["error"] == {
        "type": "ChildWorkflowError",
        "message": f"child workflow {child_id(2)!r} failed: CardDeclined: no",
    }


def test_another_child_type_at_a_recorded_position_is_nondeterministic() -> None:
    async def changed(ctx: WorkflowContext, input: Any) -> Any:
        return await ctx.execute_child_workflow("refund", input)

    outcome = started(History({"amount": 5}), 1, FIRST_CHILD_ID).replay(changed)
    assert outcome.commands == []
    assert outcome.nondeterminism is not None and "'charge'" in outcome.nondeterminism


def test_code_that_no_longer_starts_a_recorded_child_is_nondeterministic() -> None:
    async def shortened(ctx: WorkflowContext, input: Any) -> str:
        return "done"

    outcome = started(History({"amount": 5}), 1, FIRST_CHILD_ID).replay(shortened)
    assert outcome.commands == []
    assert outcome.nondeterminism is not None and "child workflow 1" in outcome.nondeterminism


def test_a_cancel_request_raises_at_the_await_on_a_child() -> None:
    async def parent(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.execute_child_workflow("charge", 1)
        except WorkflowCancelled:
            return "compensated"
        return "charged"

    history = started(History(), 1, FIRST_CHILD_ID).add("CancelRequested", reason="stop")
    assert history.replay(parent).commands == [{"type": "cancel_workflow"}]


# -- end to end ----------------------------------------------------------------------------------


@workflow.defn(name="waits-forever")
async def waits_forever(ctx: WorkflowContext, input: None) -> str:
    return str(await ctx.wait_for_signal("never"))


@workflow.defn(name="parent-of-waiter")
async def parent_of_waiter(ctx: WorkflowContext, input: dict[str, Any]) -> str:
    child = ctx.execute_child_workflow(
        waits_forever, workflow_id=input["child_id"], parent_close_policy=input["policy"]
    )
    return str(await child)


@workflow.defn(name="supervisor")
async def supervisor(ctx: WorkflowContext, input: str) -> dict[str, str]:
    try:
        await ctx.execute_child_workflow(waits_forever, workflow_id=input)
    except ChildWorkflowError as exc:
        return {"kind": exc.kind, "type": exc.type, "message": exc.message, "workflow_id": exc.workflow_id}
    return {"kind": "completed"}


async def child_status(client: AssayClient, namespace: str, workflow_id: str) -> str:
    return (await client.workflows.get(workflow_id, namespace=namespace)).status


async def wait_until_running(client: AssayClient, namespace: str, workflow_id: str) -> None:
    """Until the parent has started the child `workflow_id` (404 until then)."""

    async def is_running() -> bool:
        try:
            return await child_status(client, namespace, workflow_id) == "RUNNING"
        except ApiError:
            return False

    await eventually(is_running, what=f"{workflow_id} started")


async def test_the_parent_gets_its_childs_result(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[order, charge]):
        run = await client.workflows.start("order", {"amount": 42}, namespace=namespace)
        result = await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert result == {"receipt": {"charged": 42}}
    default_id = f"{run.workflow_id}-{run.run_id}-child-1"
    assert await child_status(client, namespace, default_id) == "COMPLETED"


async def test_a_failing_child_raises_in_the_parent(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[order, charge]):
        run = await client.workflows.start("order", {"amount": 500}, namespace=namespace)
        result = await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert result == {"error": "failed", "type": "CardDeclined", "message": "the card was declined"}


@pytest.mark.parametrize(
    ("policy", "child_ends"), [("terminate", "TERMINATED"), ("request_cancel", "CANCELLED")]
)
async def test_cancelling_the_parent_ends_its_child_per_the_close_policy(
    client: AssayClient, namespace: str, worker: StartWorker, policy: ParentClosePolicy, child_ends: str
) -> None:
    child_id = f"waiter-{policy}"
    async with worker(workflows=[parent_of_waiter, waits_forever]):
        run = await client.workflows.start(
            "parent-of-waiter", {"policy": policy, "child_id": child_id}, namespace=namespace
        )
        await wait_until_running(client, namespace, child_id)
        await client.workflows.cancel(run.workflow_id, "no longer needed", namespace=namespace)
        with pytest.raises(WorkflowFailure):
            await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)

        async def child_ended() -> bool:
            return await child_status(client, namespace, child_id) == child_ends

        await eventually(child_ended, what=f"the child {child_ends.lower()}")
    assert (await client.workflows.get(run.workflow_id, namespace=namespace)).status == "CANCELLED"


async def test_terminating_a_child_raises_in_its_parent(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[supervisor, waits_forever]):
        run = await client.workflows.start("supervisor", "worker-child", namespace=namespace)
        await wait_until_running(client, namespace, "worker-child")
        await client.workflows.terminate("worker-child", "stuck", namespace=namespace)
        result = await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert result == {
        "kind": "terminated",
        "type": "Terminated",
        "message": "stuck",
        "workflow_id": "worker-child",
    }
