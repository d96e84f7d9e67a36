"""The `order_saga` workflow and its `take_payment` child.

The order reserves stock and takes the payment in parallel (the payment is a child workflow of
its own: authorize, then capture), then ships. When any step fails, every step that had
succeeded is undone (released, refunded) before the order fails with `OrderFailed`: each
compensation is an activity too, so it is retried and survives worker restarts like the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assay import workflow
from assay.workflow import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    Operation,
    RetryPolicy,
    WorkflowContext,
)

TASK_QUEUE = "orders"
#: Payments above this are declined by the (pretend) card network.
CARD_LIMIT = 1000
#: Where the (pretend) carrier delivers.
SHIPPABLE_COUNTRIES = frozenset({"FR", "DE", "GB", "NL"})
#: Retries stay short here; a declined card or an unreachable country is final at once.
RETRY = RetryPolicy(
    max_attempts=3, initial_interval=0.2, non_retryable_errors=("CardDeclined", "NotShippable")
)


@workflow.activity
def reserve_stock(items: list[dict[str, Any]]) -> str:
    """Hold the items in the warehouse; the reservation's id."""
    return "reservation-" + "-".join(f"{item['sku']}x{item['quantity']}" for item in items)


@workflow.activity
def release_stock(reservation: str) -> str:
    """Undo `reserve_stock`."""
    return f"released {reservation}"


@workflow.activity
def authorize_payment(input: dict[str, Any]) -> str:
    """Ask the card network to hold the amount; the authorization's id."""
    if input["amount"] > CARD_LIMIT:
        raise ApplicationError(f"{input['amount']} is over the card's limit", type="CardDeclined")
    return f"authorization-{input['order_id']}"


@workflow.activity
def capture_payment(authorization: str) -> str:
    """Take the held amount; the payment's id."""
    return authorization.replace("authorization", "payment")


@workflow.activity
def refund_payment(payment: str) -> str:
    """Undo a captured payment."""
    return f"refunded {payment}"


@workflow.activity
def ship_order(input: dict[str, Any]) -> str:
    """Hand the order to the carrier; the tracking number."""
    if input["country"] not in SHIPPABLE_COUNTRIES:
        raise ApplicationError(f"we do not ship to {input['country']}", type="NotShippable")
    return f"tracking-{input['order_id']}"


@workflow.defn(name="take_payment")
async def take_payment(ctx: WorkflowContext, input: dict[str, Any]) -> str:
    """Authorize, then capture `input["amount"]`; the payment's id."""
    authorization = await ctx.execute_activity(authorize_payment, input, start_to_close=10, retry=RETRY)
    return str(await ctx.execute_activity(capture_payment, authorization, start_to_close=10, retry=RETRY))


async def succeeded(operation: Operation[Any]) -> Any:
    """The operation's result, or None when it failed (awaiting it again just reads the outcome)."""
    try:
        return await operation
    except (ActivityError, ChildWorkflowError):
        return None


@workflow.defn(name="order_saga")
async def order_saga(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    """Place order `input["order_id"]` for `items` ([{sku, quantity}]), paying `amount`,
    shipping to `country`. Returns the reservation, payment and tracking ids; fails with
    `OrderFailed` once whatever had succeeded is undone."""
    order_id = input["order_id"]
    # Both start now and run in parallel: an activity and a child workflow.
    reservation = ctx.execute_activity(reserve_stock, input["items"], start_to_close=10, retry=RETRY)
    payment = ctx.execute_child_workflow(
        take_payment, {"order_id": order_id, "amount": input["amount"]}, workflow_id=f"{order_id}-payment"
    )
    try:
        reservation_id, payment_id = await ctx.gather(reservation, payment)
        shipment = {"order_id": order_id, "country": input["country"]}
        tracking = await ctx.execute_activity(ship_order, shipment, start_to_close=10, retry=RETRY)
    except (ActivityError, ChildWorkflowError) as exc:
        undone = await compensate(ctx, reservation, payment)
        ctx.logger.info("order %s failed (%s); undone: %s", order_id, exc, undone)
        raise ApplicationError(f"order {order_id} failed: {exc}", type="OrderFailed") from exc
    return {"reservation": reservation_id, "payment": payment_id, "tracking": tracking}


async def compensate(ctx: WorkflowContext, reservation: Operation[Any], payment: Operation[Any]) -> list[str]:
    """Undo, in parallel, each step that succeeded (waiting for the others to settle first)."""
    undo = []
    if (reservation_id := await succeeded(reservation)) is not None:
        undo.append(ctx.execute_activity(release_stock, reservation_id, start_to_close=10, retry=RETRY))
    if (payment_id := await succeeded(payment)) is not None:
        undo.append(ctx.execute_activity(refund_payment, payment_id, start_to_close=10, retry=RETRY))
    return [str(result) for result in await ctx.gather(*undo)]


WORKFLOWS: list[Callable[..., Any]] = [order_saga, take_payment]
ACTIVITIES: list[Callable[..., Any]] = [
    reserve_stock,
    release_stock,
    authorize_payment,
    capture_payment,
    refund_payment,
    ship_order,
]
