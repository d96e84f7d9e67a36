"""`python -m examples.order_saga.start ORDER_ID [--amount N] [--country CC]`: place an order and
print how it ended."""

from __future__ import annotations

import argparse
import asyncio

from assay.client import AssayClient, WorkflowFailure
from examples import api_url, namespace
from examples.order_saga.workflows import TASK_QUEUE


async def main(arguments: argparse.Namespace) -> None:
    input = {
        "order_id": arguments.order_id,
        "items": [{"sku": "book", "quantity": 2}],
        "amount": arguments.amount,
        "country": arguments.country,
    }
    async with AssayClient(api_url()) as client:
        run = await client.workflows.start(
            "order_saga", input, namespace=namespace(), workflow_id=arguments.order_id, task_queue=TASK_QUEUE
        )
        print(f"started {run.workflow_id}")
        try:
            print(await client.workflows.result(run.workflow_id, namespace=namespace()))
        except WorkflowFailure as failure:
            print(failure)


if __name__ == "__main__":
    options = argparse.ArgumentParser(prog="python -m examples.order_saga.start")
    options.add_argument("order_id")
    options.add_argument("--amount", type=int, default=40, help="over 1000 the card is declined")
    options.add_argument("--country", default="FR", help="FR, DE, GB or NL ship; others fail")
    asyncio.run(main(options.parse_args()))
