"""The worker registry, and the lifecycle events a run publishes on JetStream."""

from __future__ import annotations

import json

from tests.conftest import Stack
from tests.support import eventually, subject_messages
from tests.workflow.worker import RawWorker, create_namespace, start


async def test_workers_register_heartbeat_list_and_leave(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["charge"]).register()
    listed = (await stack.client.get("/api/v1/workers", params={"namespace": ns})).json()["items"]
    assert [(w["worker_id"], w["workflow_types"], w["activity_names"]) for w in listed] == [
        (worker.worker_id, ["greet"], ["charge"])
    ]
    assert (await stack.client.post(f"/api/v1/workers/{worker.worker_id}/heartbeat")).status_code == 204
    assert (await stack.client.delete(f"/api/v1/workers/{worker.worker_id}")).status_code == 204
    gone = await stack.client.post(f"/api/v1/workers/{worker.worker_id}/heartbeat")
    assert (gone.status_code, gone.json()["code"]) == (404, "worker_not_found")
    assert (await stack.client.get("/api/v1/workers", params={"namespace": ns})).json()["items"] == []


async def test_registering_in_an_unknown_namespace_is_404(stack: Stack, unique: str) -> None:
    response = await stack.client.post("/api/v1/workers", json={"namespace": unique})
    assert (response.status_code, response.json()["code"]) == (404, "namespace_not_found")


async def test_a_run_publishes_its_lifecycle_events(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["charge"]).register()
    started = await start(stack.client, ns)
    task = await worker.task()
    result = await worker.complete(
        task["task_token"], [{"type": "schedule_activity", "activity_seq": 1, "name": "charge"}]
    )
    await worker.finish_activity(result["activity_tasks"][0]["task_token"], "ok")
    await stack.client.post(
        f"/api/v1/workflows/{started['workflow_id']}/signal/go", params={"namespace": ns}, json={}
    )
    task = await worker.task()
    await worker.complete(task["task_token"], [{"type": "complete_workflow", "result": 1}])
    expected = [
        "assay.workflow.namespace_created",
        "assay.workflow.workflow_started",
        "assay.workflow.activity_scheduled",
        "assay.workflow.activity_completed",
        "assay.workflow.signal_received",
        "assay.workflow.workflow_completed",
    ]
    subject = stack.subjects.event("workflow", ns, "*")

    async def published() -> bool:
        messages = await subject_messages(stack.nats.url, stack.subjects.events_stream, subject)
        return [json.loads(m.data)["type"] for m in messages if m.data] == expected

    await eventually(published, what="the run's lifecycle events on the stream")
    messages = await subject_messages(stack.nats.url, stack.subjects.events_stream, subject)
    completed = json.loads(messages[-1].data or b"{}")
    assert completed["subject"] == f"workflows/{started['workflow_id']}"
    assert completed["data"]["run_id"] == started["run_id"]


async def test_queue_stats_count_waiting_and_running_work(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"], ["charge"]).register()
    await start(stack.client, ns)
    await start(stack.client, ns)
    task = await worker.task()
    commands = [
        {"type": "schedule_activity", "activity_seq": 1, "name": "charge"},
        {"type": "schedule_activity", "activity_seq": 2, "name": "ship", "task_queue": "shipping"},
    ]
    await worker.complete(task["task_token"], commands)
    queues = (await stack.client.get("/api/v1/queues", params={"namespace": ns})).json()["items"]
    assert queues == [
        {
            "task_queue": "main",
            "workflow_tasks_ready": 1,
            "workflow_tasks_leased": 0,
            "activities_scheduled": 0,
            "activities_running": 1,
            "workers": 1,
        },
        {
            "task_queue": "shipping",
            "workflow_tasks_ready": 0,
            "workflow_tasks_leased": 0,
            "activities_scheduled": 1,
            "activities_running": 0,
            "workers": 0,
        },
    ]
