"""A worker that dies during a long-poll has no task claimed on its behalf afterwards."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from tests.conftest import Stack
from tests.support import eventually
from tests.workflow.worker import RawWorker, create_namespace, start


async def heartbeat(stack: Stack, namespace: str, worker_id: str) -> str:
    listed = (await stack.client.get("/api/v1/workers", params={"namespace": namespace})).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    return str(next(w["last_heartbeat"] for w in items if w["worker_id"] == worker_id))


async def test_activity_is_not_claimed_by_the_poll_of_a_worker_that_died(stack: Stack, unique: str) -> None:
    namespace = await create_namespace(stack.client, unique)
    async with httpx.AsyncClient(
        base_url=stack.url, headers=stack.client.headers, timeout=60
    ) as doomed_client:
        doomed = await RawWorker(doomed_client, namespace, activity_names=["work"]).register()
        registered = await heartbeat(stack, namespace, doomed.worker_id)
        polling = asyncio.create_task(doomed.poll_activities(wait=20))
        # The poll refreshes the worker's heartbeat when it first looks: from then on it waits.
        await eventually(
            lambda: _beat_since(stack, namespace, doomed.worker_id, registered), what="the poll is waiting"
        )
        polling.cancel()  # the worker dies: its connection closes mid-poll
        with contextlib.suppress(asyncio.CancelledError):
            await polling

    # Only now is there an activity; a poll left running for the dead worker would take attempt 1
    # (and let it time out), so the live worker would see attempt 2.
    deciding = await RawWorker(stack.client, namespace, workflow_types=["greet"]).register()
    await start(stack.client, namespace, "greet")
    task = await deciding.task()
    schedule = {
        "type": "schedule_activity",
        "activity_seq": 1,
        "name": "work",
        "start_to_close_timeout": 1,
        "retry": {"max_attempts": 3, "initial_interval": 0.1},
    }
    assert (await deciding.complete(task["task_token"], [schedule]))["activity_tasks"] == []
    live = await RawWorker(stack.client, namespace, activity_names=["work"]).register()
    activity = await live.activity(wait=10)
    assert activity["attempt"] == 1


async def _beat_since(stack: Stack, namespace: str, worker_id: str, before: str) -> bool:
    return await heartbeat(stack, namespace, worker_id) > before
