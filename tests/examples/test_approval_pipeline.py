"""examples/approval_pipeline: a review step driven by `step_action` signals, shown as `pipeline_state`."""

from __future__ import annotations

from typing import Any

from assay.client import ApiError, AssayClient
from examples.approval_pipeline.workflows import ACTIVITIES, TASK_QUEUE, WORKFLOWS
from tests.examples.conftest import ExampleWorker
from tests.support import eventually


async def start(client: AssayClient, namespace: str, review_timeout: float = 3600) -> str:
    input = {"change": "billing-export", "review_timeout": review_timeout}
    run = await client.workflows.start("approval_pipeline", input, namespace=namespace, task_queue=TASK_QUEUE)
    return run.workflow_id


async def pipeline_state(client: AssayClient, namespace: str, workflow_id: str) -> dict[str, Any]:
    state = await client.workflows.query_state(workflow_id, namespace=namespace)
    return dict(state.state["pipeline_state"])


async def wait_for_review(client: AssayClient, namespace: str, workflow_id: str) -> dict[str, Any]:
    """The pipeline state once the review step waits for people."""

    async def is_reviewing() -> bool:
        try:
            return bool((await pipeline_state(client, namespace, workflow_id))["current_step"] == "review")
        except ApiError:
            return False

    await eventually(is_reviewing, what="the review step started")
    return await pipeline_state(client, namespace, workflow_id)


def statuses(state: dict[str, Any]) -> dict[str, str]:
    return {step["name"]: step["status"] for step in state["steps"]}


async def test_the_review_step_offers_its_actions_until_it_expires(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        workflow_id = await start(client, namespace)
        state = await wait_for_review(client, namespace, workflow_id)
    assert state["status"] == "running"
    assert statuses(state) == {"prepare": "done", "review": "running", "deploy": "waiting"}
    review = state["steps"][1]
    assert review["actions"] == ["approve", "reject"]
    assert review["started_at"] < review["expires_at"]
    assert {"time", "msg", "step"} <= state["log"][0].keys()


async def test_an_approval_deploys_and_completes_the_pipeline(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        workflow_id = await start(client, namespace)
        await wait_for_review(client, namespace, workflow_id)
        for wrong in (
            {"step": "deploy", "action": "approve", "user": "eve"},
            {"step": "review", "action": "ship"},
        ):
            await client.workflows.signal(workflow_id, "step_action", wrong, namespace=namespace)
        approval = {"step": "review", "action": "approve", "user": "ada"}
        await client.workflows.signal(workflow_id, "step_action", approval, namespace=namespace)
        result = await client.workflows.result(workflow_id, namespace=namespace, timeout=30)
    assert result["status"] == "completed" and result["current_step"] is None
    assert statuses(result) == {"prepare": "done", "review": "done", "deploy": "done"}
    assert "actions" not in result["steps"][1]
    messages = [entry["msg"] for entry in result["log"]]
    assert sum(message.startswith("ignored step_action") for message in messages) == 2
    assert "ada chose approve" in messages and messages[-1] == "pipeline completed"
    assert await pipeline_state(client, namespace, workflow_id) == result


async def test_a_rejection_skips_the_deployment(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        workflow_id = await start(client, namespace)
        await wait_for_review(client, namespace, workflow_id)
        rejection = {"step": "review", "action": "reject", "user": "bob"}
        await client.workflows.signal(workflow_id, "step_action", rejection, namespace=namespace)
        result = await client.workflows.result(workflow_id, namespace=namespace, timeout=30)
    assert result["status"] == "rejected"
    assert statuses(result) == {"prepare": "done", "review": "failed", "deploy": "skipped"}
    events = await client.workflows.events(workflow_id, namespace=namespace)
    assert [e.attributes["name"] for e in events if e.type == "ActivityScheduled"] == ["prepare_release"]


async def test_a_review_without_decision_expires(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        workflow_id = await start(client, namespace, review_timeout=0.3)
        result = await client.workflows.result(workflow_id, namespace=namespace, timeout=30)
    assert result["status"] == "expired"
    assert statuses(result) == {"prepare": "done", "review": "failed", "deploy": "skipped"}
    assert "review expired without a decision" in [entry["msg"] for entry in result["log"]]


async def test_cancelling_marks_the_waiting_step_cancelled(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        workflow_id = await start(client, namespace)
        await wait_for_review(client, namespace, workflow_id)
        await client.workflows.cancel(workflow_id, "change withdrawn", namespace=namespace)

        async def is_cancelled() -> bool:
            return bool((await pipeline_state(client, namespace, workflow_id))["status"] == "cancelled")

        await eventually(is_cancelled, what="the pipeline cancelled")
    state = await pipeline_state(client, namespace, workflow_id)
    assert statuses(state) == {"prepare": "done", "review": "cancelled", "deploy": "skipped"}
    assert (await client.workflows.get(workflow_id, namespace=namespace)).status == "CANCELLED"
