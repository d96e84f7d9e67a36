"""Workers: register what they can run, prove they are alive, hand their tasks back when gone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from assay_common.db import uuid7
from assay_workflow.domain.activity_tasks import release_activity
from assay_workflow.domain.engine import Engine, Work, workflow_task_topic
from assay_workflow.domain.errors import WorkerNotFound
from assay_workflow.domain.namespaces import NamespaceNotFound
from assay_workflow.domain.workflows import check_task_queue
from assay_workflow.store import activities as activity_store
from assay_workflow.store import namespaces as namespace_store
from assay_workflow.store import runs as run_store
from assay_workflow.store import workers as worker_store
from assay_workflow.store.rows import WorkerRow


@dataclass(frozen=True)
class Registration:
    identity: str
    namespace: str
    task_queue: str
    workflow_types: list[str]
    activity_names: list[str]
    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int


class Workers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def register(self, registration: Registration) -> WorkerRow:
        check_task_queue(registration.task_queue)
        async with self.engine.work() as work:
            if await namespace_store.get(work.conn, registration.namespace) is None:
                raise NamespaceNotFound(f"namespace {registration.namespace!r} does not exist")
            values = {
                "worker_id": str(uuid7()),
                **dataclasses.asdict(registration),
                "last_heartbeat": work.now,
                "registered_at": work.now,
            }
            await worker_store.insert(work.conn, values)
            row = await worker_store.get(work.conn, values["worker_id"])
        assert row is not None
        return row

    async def heartbeat(self, worker_id: str) -> None:
        async with self.engine.work() as work:
            if not await worker_store.touch(work.conn, worker_id, work.now):
                raise WorkerNotFound(f"worker {worker_id!r} is not registered (or was removed as silent)")

    async def delete(self, worker_id: str) -> None:
        async with self.engine.work() as work:
            if not await remove_worker(work, worker_id):
                raise WorkerNotFound(f"worker {worker_id!r} is not registered")

    async def list(self, namespace: str, *, after: str | None, limit: int) -> list[WorkerRow]:
        async with self.engine.db.read() as conn:
            return await worker_store.list_page(conn, namespace=namespace, after=after, limit=limit)


async def remove_worker(work: Work, worker_id: str) -> bool:
    """Forget the worker and hand back every task it holds, ready to be claimed again at once."""
    work.engine.forget_worker(worker_id)
    if not await worker_store.delete(work.conn, worker_id):
        return False
    for run in await run_store.release_worker_leases(work.conn, worker_id, work.now):
        work.topics.add(workflow_task_topic(run.namespace, run.task_queue))
    for activity in await activity_store.running_of_worker(work.conn, worker_id):
        scope = await work.lock_run(activity.run_id)
        if scope is not None:
            await release_activity(scope, activity)
    return True
