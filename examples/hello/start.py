"""`python -m examples.hello.start [NAME]`: start a `hello` run and print its result."""

from __future__ import annotations

import asyncio
import sys

from assay.client import AssayClient
from examples import api_url, namespace
from examples.hello.workflows import TASK_QUEUE


async def main(name: str) -> None:
    async with AssayClient(api_url()) as client:
        run = await client.workflows.start(
            "hello", {"name": name}, namespace=namespace(), task_queue=TASK_QUEUE
        )
        print(f"started {run.workflow_id}")
        print(await client.workflows.result(run.workflow_id, namespace=namespace()))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ada"))
