"""Store-level guarantees on both backends: exclusive claims under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from assay_common.db import Database, utcnow, uuid7
from assay_workflow.app import MIGRATIONS
from assay_workflow.store import activities as activity_store
from assay_workflow.store import runs as run_store
from tests.common.conftest import database_for


@pytest.fixture
async def db(database_url: str, unique: str) -> AsyncIterator[Database]:
    database = database_for(database_url, unique)
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


async def insert_ready_run(db: Database, workflow_id: str) -> bool:
    now = utcnow()
    async with db.transaction() as tx:
        inserted = await run_store.insert(
            tx.conn,
            {
                "run_id": uuid7(),
                "namespace": "main",
                "workflow_id": workflow_id,
                "workflow_type": "greet",
                "task_queue": "main",
                "status": "RUNNING",
                "search_attributes": {},
                "created_at": now,
                "updated_at": now,
                "task_ready": True,
                "task_ready_at": now,
                "task_dirty": False,
                "task_attempt": 1,
            },
        )
    return inserted is not None


async def test_each_workflow_task_is_claimed_by_exactly_one_worker(db: Database) -> None:
    for i in range(5):
        assert await insert_ready_run(db, f"w{i}")

    async def claim(worker_id: str) -> list[str]:
        async with db.transaction() as tx:
            now = utcnow()
            claimed = await run_store.claim_tasks(
                tx.conn,
                namespace="main",
                task_queue="main",
                workflow_types=["greet"],
                worker_id=worker_id,
                now=now,
                lease_expires_at=now + timedelta(seconds=10),
                limit=2,
            )
        return [run.workflow_id for run in claimed]

    results = await asyncio.gather(*[claim(f"worker-{i}") for i in range(8)])
    claimed = [wid for result in results for wid in result]
    assert sorted(claimed) == [f"w{i}" for i in range(5)]


async def test_a_second_open_run_of_a_workflow_id_cannot_be_inserted(db: Database) -> None:
    assert await insert_ready_run(db, "w")
    assert not await insert_ready_run(db, "w")


async def test_each_activity_is_claimed_once(db: Database) -> None:
    assert await insert_ready_run(db, "w")
    async with db.read() as conn:
        run = await run_store.latest(conn, "main", "w")
    assert run is not None
    now = utcnow()
    async with db.transaction() as tx:
        for seq in range(1, 6):
            await activity_store.insert(
                tx.conn,
                {
                    "run_id": run.run_id,
                    "activity_seq": seq,
                    "namespace": "main",
                    "workflow_id": "w",
                    "name": "charge",
                    "task_queue": "main",
                    "status": activity_store.SCHEDULED,
                    "attempt": 1,
                    "max_attempts": 3,
                    "initial_interval": 1.0,
                    "backoff_coefficient": 2.0,
                    "max_interval": 100.0,
                    "non_retryable_errors": [],
                    "scheduled_at": now,
                    "cancel_requested": False,
                },
            )

    async def claim() -> list[int]:
        async with db.transaction() as tx:
            found = await activity_store.claimable(
                tx.conn, namespace="main", task_queue="main", names=["charge"], now=utcnow(), limit=2
            )
            for activity in found:
                await activity_store.update(
                    tx.conn, activity.run_id, activity.activity_seq, status=activity_store.RUNNING
                )
        return [a.activity_seq for a in found]

    results = await asyncio.gather(*[claim() for _ in range(8)])
    assert sorted(seq for result in results for seq in result) == [1, 2, 3, 4, 5]
