"""`worker_for` runs an example's worker as a process of its own against the stack, as the
example's README does: it takes the example's workflows in the namespace it is given."""

from __future__ import annotations

from assay.client import ApiError, AssayClient
from examples.approval_pipeline.workflows import TASK_QUEUE
from tests.conftest import Stack
from tests.dashboard.browser.conftest import WorkerFor
from tests.support import eventually


async def test_the_approval_pipeline_worker_takes_a_pipeline_to_its_review(
    stack: Stack, worker_for: WorkerFor, namespace: str
) -> None:
    async with AssayClient(stack.url) as client, worker_for("approval_pipeline", namespace):
        run = await client.workflows.start(
            "approval_pipeline",
            {"change": "browser", "review_timeout": 600},
            namespace=namespace,
            task_queue=TASK_QUEUE,
        )

        async def in_review() -> bool:
            try:
                state = await client.workflows.query_state(run.workflow_id, namespace=namespace)
            except ApiError as error:  # until the workflow's first task records its state
                if error.code != "query_state_not_found":
                    raise
                return False
            return bool(state.state["pipeline_state"]["current_step"] == "review")

        await eventually(in_review, within=30, what="the pipeline reaching its review")
        await client.workflows.cancel(run.workflow_id, "done", namespace=namespace)
