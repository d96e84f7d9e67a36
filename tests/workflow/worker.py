"""A worker speaking the raw protocol over HTTP, for tests: register, poll, complete with commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

Json = Any


@dataclass
class RawWorker:
    client: httpx.AsyncClient
    namespace: str
    workflow_types: list[str] = field(default_factory=list)
    activity_names: list[str] = field(default_factory=list)
    task_queue: str = "main"
    max_concurrent_activities: int = 20
    worker_id: str = ""

    async def register(self) -> RawWorker:
        response = await self.client.post(
            "/api/v1/workers",
            json={
                "identity": "test-worker",
                "namespace": self.namespace,
                "task_queue": self.task_queue,
                "workflow_types": self.workflow_types,
                "activity_names": self.activity_names,
                "max_concurrent_activities": self.max_concurrent_activities,
            },
        )
        assert response.status_code == 201, response.text
        self.worker_id = response.json()["worker_id"]
        return self

    async def poll(self, wait: float = 0, max_tasks: int = 1, cached: list[Json] | None = None) -> list[Json]:
        response = await self.client.post(
            "/api/v1/workflow-tasks/poll",
            json={
                "worker_id": self.worker_id,
                "max_tasks": max_tasks,
                "wait_seconds": wait,
                "cached": cached or [],
            },
        )
        assert response.status_code == 200, response.text
        tasks: list[Json] = response.json()["tasks"]
        return tasks

    async def task(self, wait: float = 10) -> Json:
        """The next workflow task; fails when none comes within `wait` seconds."""
        tasks = await self.poll(wait=wait)
        assert len(tasks) == 1, "expected a workflow task"
        return tasks[0]

    async def complete_raw(self, token: str, commands: list[Json]) -> httpx.Response:
        return await self.client.post(
            "/api/v1/workflow-tasks/complete",
            json={"worker_id": self.worker_id, "completions": [{"task_token": token, "commands": commands}]},
        )

    async def complete(self, token: str, commands: list[Json]) -> Json:
        response = await self.complete_raw(token, commands)
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    async def fail(self, token: str, message: str = "boom") -> httpx.Response:
        return await self.client.post(
            "/api/v1/workflow-tasks/fail",
            json={
                "worker_id": self.worker_id,
                "failures": [{"task_token": token, "kind": "error", "message": message}],
            },
        )

    async def poll_activities(self, wait: float = 0, max_tasks: int = 1) -> list[Json]:
        response = await self.client.post(
            "/api/v1/activity-tasks/poll",
            json={"worker_id": self.worker_id, "max_tasks": max_tasks, "wait_seconds": wait},
        )
        assert response.status_code == 200, response.text
        tasks: list[Json] = response.json()["tasks"]
        return tasks

    async def activity(self, wait: float = 10) -> Json:
        tasks = await self.poll_activities(wait=wait)
        assert len(tasks) == 1, "expected an activity task"
        return tasks[0]

    async def finish_activity(self, token: str, result: Json = None, error: Json = None) -> httpx.Response:
        item: dict[str, Json] = {"task_token": token}
        if error is not None:
            item["error"] = error
        else:
            item["result"] = result
        return await self.client.post(
            "/api/v1/activity-tasks/complete", json={"worker_id": self.worker_id, "results": [item]}
        )

    async def heartbeat_activity(self, token: str, details: Json = None) -> httpx.Response:
        return await self.client.post(
            "/api/v1/activity-tasks/heartbeat",
            json={"worker_id": self.worker_id, "heartbeats": [{"task_token": token, "details": details}]},
        )


async def create_namespace(client: httpx.AsyncClient, name: str) -> str:
    response = await client.post("/api/v1/namespaces", json={"name": name})
    assert response.status_code == 201, response.text
    return name


async def start(
    client: httpx.AsyncClient, namespace: str, workflow_type: str = "greet", **fields: Json
) -> Json:
    response = await client.post(
        "/api/v1/workflows", json={"namespace": namespace, "workflow_type": workflow_type, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def describe(client: httpx.AsyncClient, namespace: str, workflow_id: str) -> Json:
    response = await client.get(f"/api/v1/workflows/{workflow_id}", params={"namespace": namespace})
    assert response.status_code == 200, response.text
    return response.json()


async def history(client: httpx.AsyncClient, namespace: str, workflow_id: str) -> list[Json]:
    response = await client.get(f"/api/v1/workflows/{workflow_id}/events", params={"namespace": namespace})
    assert response.status_code == 200, response.text
    events: list[Json] = response.json()["events"]
    return events


async def event_types(client: httpx.AsyncClient, namespace: str, workflow_id: str) -> list[str]:
    return [e["type"] for e in await history(client, namespace, workflow_id)]
