"""The timekeeper on both backends, with short leases and worker timeouts: expired leases and
silent workers give their tasks back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from assay_workflow.domain.engine import Engine, WorkflowTask
from assay_workflow.domain.errors import WorkerNotFound
from assay_workflow.domain.timekeeper import Timekeeper
from assay_workflow.domain.workers import Registration, Workers
from assay_workflow.domain.workflow_tasks import Completion, WorkflowTasks
from assay_workflow.domain.workflows import StartRequest, Workflows
from assay_workflow.settings import WorkflowSettings
from tests.conftest import NatsServer
from tests.support import eventually
from tests.workflow.engines import engine_on


@pytest.fixture
async def engine(database_url: str, unique: str, nats_server: NatsServer) -> AsyncIterator[Engine]:
    async with engine_on(
        database_url,
        unique,
        nats_server.url,
        WorkflowSettings(workflow_task_timeout_seconds=0.2, worker_timeout_seconds=0.3),
    ) as engine:
        yield engine


async def claimed_task(engine: Engine, worker_id: str) -> WorkflowTask:
    (task,) = await WorkflowTasks(engine).poll(worker_id, 1, 0, {})
    return task


async def a_running_workflow(engine: Engine) -> str:
    request = StartRequest("main", None, "greet", "main", None, {}, "allow_duplicate", None)
    await Workflows(engine).start(request)
    registration = Registration("test", "main", "main", ["greet"], [], 10, 10)
    return (await Workers(engine).register(registration)).worker_id


async def test_an_expired_lease_makes_the_task_claimable_again(engine: Engine) -> None:
    worker_id = await a_running_workflow(engine)
    first = await claimed_task(engine, worker_id)
    timekeeper = Timekeeper(engine)
    tasks = WorkflowTasks(engine)

    async def claimable_again() -> bool:
        await timekeeper.catch_up()
        return bool(await tasks.poll(worker_id, 1, 0, {}))

    await eventually(claimable_again, what="the expired lease released")
    (result,) = await tasks.complete(worker_id, [Completion(first.token, [])])
    assert result.status == "stale"


async def test_a_silent_worker_is_removed_and_its_task_released(engine: Engine) -> None:
    silent = await a_running_workflow(engine)
    task = await claimed_task(engine, silent)
    timekeeper = Timekeeper(engine)
    workers = Workers(engine)

    async def removed() -> bool:
        await timekeeper.catch_up()
        return not [w for w in await workers.list("main", after=None, limit=10) if w.worker_id == silent]

    await eventually(removed, what="the silent worker removed")
    with pytest.raises(WorkerNotFound):
        await workers.heartbeat(silent)
    replacement = (
        await workers.register(Registration("new", "main", "main", ["greet"], [], 10, 10))
    ).worker_id
    again = await claimed_task(engine, replacement)
    assert (again.run.run_id, again.token != task.token) == (task.run.run_id, True)
