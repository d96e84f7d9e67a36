"""Operator actions on workflows the SDK's worker runs: retry after a failed activity, continue as new."""

from __future__ import annotations

import pytest

from assay import workflow
from assay.client import ApiError, AssayClient, WorkflowFailure
from assay.workflow import ActivityError, ApplicationError, RetryPolicy, WorkflowContext
from tests.sdk_workflow.conftest import StartWorker

#: Whether `charge` declines; the operator "fixes the card" between the failure and the retry.
declining = {"charge": True}
calls: list[str] = []


@workflow.activity(name="reserve")
def reserve(sku: int) -> str:
    calls.append("reserve")
    return f"reserved {sku}"


@workflow.activity(name="charge")
def charge(sku: int) -> str:
    calls.append("charge")
    if declining["charge"]:
        raise ApplicationError("no funds", type="Declined")
    return f"paid {sku}"


@workflow.activity(name="refund")
def refund(sku: int) -> str:
    calls.append("refund")
    return f"refunded {sku}"


@workflow.defn(name="checkout")
async def checkout(ctx: WorkflowContext, sku: int) -> list[str]:
    reserved = await ctx.execute_activity(reserve, sku, start_to_close=10)
    try:
        paid = await ctx.execute_activity(charge, sku, start_to_close=10, retry=RetryPolicy(max_attempts=1))
    except ActivityError:
        await ctx.execute_activity(refund, sku, start_to_close=10)
        raise
    return [reserved, paid]


async def test_a_retried_workflow_goes_on_from_its_failed_activity(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    declining["charge"], calls[:] = True, []
    async with worker(workflows=[checkout], activities=[reserve, charge, refund]):
        run = await client.workflows.start("checkout", 7, namespace=namespace)
        with pytest.raises(WorkflowFailure, match="Declined"):
            await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
        assert calls == ["reserve", "charge", "refund"]
        declining["charge"] = False

        retried = await client.workflows.retry(
            run.workflow_id, requested_by="ada", reason="card fixed", namespace=namespace
        )

        assert (retried.failed_run_id, retried.activity_seq, retried.status) == (run.run_id, 2, "RUNNING")
        result = await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)
    assert result == ["reserved 7", "paid 7"]
    assert calls == ["reserve", "charge", "refund", "charge"]
    failed = await client.workflows.get(run.workflow_id, namespace=namespace, run_id=run.run_id)
    assert failed.status == "FAILED"
    with pytest.raises(ApiError) as refused:
        await client.workflows.retry(run.workflow_id, requested_by="ada", reason="again", namespace=namespace)
    assert (refused.value.status, refused.value.code) == (409, "workflow_not_retryable")


@workflow.defn(name="idle")
async def idle(ctx: WorkflowContext, input: int) -> int:
    await ctx.wait_for_signal("go")
    return input


async def test_an_operator_continues_a_waiting_run_as_new(
    client: AssayClient, namespace: str, worker: StartWorker
) -> None:
    async with worker(workflows=[idle]):
        run = await client.workflows.start("idle", 1, namespace=namespace)
        same = await client.workflows.continue_as_new(run.workflow_id, namespace=namespace)
        given = await client.workflows.continue_as_new(run.workflow_id, 2, namespace=namespace)
        await client.workflows.signal(run.workflow_id, "go", namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == 2
    assert (await client.workflows.get(run.workflow_id, namespace=namespace, run_id=same.run_id)).input == 1
    first = await client.workflows.get(run.workflow_id, namespace=namespace, run_id=run.run_id)
    assert (first.status, given.workflow_id) == ("CONTINUED_AS_NEW", run.workflow_id)
    with pytest.raises(ApiError) as refused:
        await client.workflows.continue_as_new(run.workflow_id, namespace=namespace)
    assert (refused.value.status, refused.value.code) == (409, "workflow_closed")
