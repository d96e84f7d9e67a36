"""examples/order_saga: parallel steps, a payment child workflow, compensation on failure."""

from __future__ import annotations

from typing import Any

import pytest

from assay.client import AssayClient, WorkflowFailure
from examples.order_saga.workflows import ACTIVITIES, TASK_QUEUE, WORKFLOWS
from tests.examples.conftest import ExampleWorker


async def place(
    client: AssayClient, namespace: str, order_id: str, *, amount: int = 40, country: str = "FR"
) -> Any:
    input = {
        "order_id": order_id,
        "items": [{"sku": "book", "quantity": 2}],
        "amount": amount,
        "country": country,
    }
    await client.workflows.start(
        "order_saga", input, namespace=namespace, workflow_id=order_id, task_queue=TASK_QUEUE
    )
    return await client.workflows.result(order_id, namespace=namespace, timeout=30)


async def activities(client: AssayClient, namespace: str, workflow_id: str) -> list[str]:
    """The activities the run completed, in order."""
    events = await client.workflows.events(workflow_id, namespace=namespace)
    names = {
        e.attributes["activity_seq"]: e.attributes["name"] for e in events if e.type == "ActivityScheduled"
    }
    return [names[e.attributes["activity_seq"]] for e in events if e.type == "ActivityCompleted"]


async def test_an_order_reserves_pays_through_its_child_and_ships(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        result = await place(client, namespace, "order-1")
    assert result == {
        "reservation": "reservation-bookx2",
        "payment": "payment-order-1",
        "tracking": "tracking-order-1",
    }
    assert sorted(await activities(client, namespace, "order-1")) == ["reserve_stock", "ship_order"]
    assert await activities(client, namespace, "order-1-payment") == ["authorize_payment", "capture_payment"]
    events = await client.workflows.events("order-1", namespace=namespace)
    types = [event.type for event in events]
    # Both started in the first task, before either finished: they ran in parallel.
    assert types.index("ChildWorkflowStarted") < types.index("ActivityCompleted")


async def test_a_failed_shipment_releases_the_stock_and_refunds_the_payment(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        with pytest.raises(WorkflowFailure) as failure:
            await place(client, namespace, "order-2", country="ZZ")
    assert failure.value.run.status == "FAILED"
    assert failure.value.run.error["type"] == "OrderFailed"
    assert "we do not ship to ZZ" in failure.value.run.error["message"]
    completed = await activities(client, namespace, "order-2")
    assert "ship_order" not in completed
    assert sorted(completed[-2:]) == ["refund_payment", "release_stock"]


async def test_a_declined_payment_fails_the_child_and_releases_the_stock_only(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        with pytest.raises(WorkflowFailure) as failure:
            await place(client, namespace, "order-3", amount=5000)
    assert "CardDeclined" in failure.value.run.error["message"]
    assert await activities(client, namespace, "order-3") == ["reserve_stock", "release_stock"]
    payment = await client.workflows.get("order-3-payment", namespace=namespace)
    assert payment.status == "FAILED"
