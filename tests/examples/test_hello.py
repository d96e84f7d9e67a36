"""examples/hello: two activities in sequence."""

from __future__ import annotations

from assay.client import AssayClient
from examples.hello.workflows import ACTIVITIES, TASK_QUEUE, WORKFLOWS
from tests.examples.conftest import ExampleWorker


async def test_hello_greets_then_shouts(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        run = await client.workflows.start(
            "hello", {"name": "ada"}, namespace=namespace, task_queue=TASK_QUEUE
        )
        assert (
            await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == "HELLO, ADA!"
        )
    events = await client.workflows.events(run.workflow_id, namespace=namespace)
    assert [e.attributes["name"] for e in events if e.type == "ActivityScheduled"] == ["greet", "shout"]
