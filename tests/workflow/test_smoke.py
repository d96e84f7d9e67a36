"""The shortest path through the protocol: start, one activity, complete."""

from __future__ import annotations

from tests.conftest import Stack
from tests.workflow.worker import RawWorker, create_namespace, describe, event_types, start


async def test_a_workflow_runs_an_activity_and_completes(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["hello"]).register()
    started = await start(stack.client, ns, input={"name": "ada"})
    task = await worker.task()
    assert task["history"][0]["type"] == "WorkflowStarted"
    assert task["history"][0]["attributes"]["input"] == {"name": "ada"}
    result = await worker.complete(
        task["task_token"],
        [{"type": "schedule_activity", "activity_seq": 1, "name": "hello", "input": "ada"}],
    )
    assert result["status"] == "ok"
    assert await worker.poll() == [], "the run waits for its activity: no task meanwhile"
    (activity,) = result["activity_tasks"]
    assert (activity["name"], activity["input"], activity["attempt"]) == ("hello", "ada", 1)
    assert (await worker.finish_activity(activity["task_token"], "hi ada")).status_code == 200
    task = await worker.task()
    assert task["history"][-1]["type"] == "ActivityCompleted"
    await worker.complete(task["task_token"], [{"type": "complete_workflow", "result": "hi ada"}])
    run = await describe(stack.client, ns, started["workflow_id"])
    assert (run["status"], run["result"]) == ("COMPLETED", "hi ada")
    assert await worker.poll() == [], "a closed run never has a task again"
    assert await event_types(stack.client, ns, started["workflow_id"]) == [
        "WorkflowStarted",
        "ActivityScheduled",
        "ActivityCompleted",
        "WorkflowCompleted",
    ]
