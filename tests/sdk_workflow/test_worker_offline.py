"""The worker without an engine: its configuration checks and its history cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from assay import workflow
from assay.client import AssayClient
from assay.worker import Worker
from assay.workflow import WorkflowContext
from assay.workflow._history import HistoryEvent
from tests.sdk_workflow.histories import History
from tests.support import eventually

Json = Any


def task(history: History, from_seq: int) -> Json:
    events = [
        {"seq": e.seq, "type": e.type, "attributes": e.attributes, "created_at": e.timestamp.isoformat()}
        for e in history.events[from_seq - 1 :]
    ]
    return {
        "task_token": "t",
        "namespace": "main",
        "workflow_id": "order-1",
        "run_id": "run-1",
        "workflow_type": "order",
        "task_queue": "main",
        "history": events,
        "history_from_seq": from_seq,
        "attempt": 1,
    }


@pytest.fixture
async def offline_worker() -> AsyncIterator[Worker]:
    client = AssayClient("http://127.0.0.1:9")
    yield Worker(client, "main", "main", workflows=[hello])
    await client.aclose()


async def hello(ctx: WorkflowContext, input: None) -> str:
    return "hello"


def test_a_worker_with_nothing_to_run_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one workflow or activity"):
        Worker("http://127.0.0.1:9", "main", "main")


def test_two_functions_of_the_same_name_are_refused() -> None:
    @workflow.defn(name="hello")
    async def other(ctx: WorkflowContext, input: None) -> str:
        return "other"

    with pytest.raises(ValueError, match="two workflow functions are named 'hello'"):
        Worker("http://127.0.0.1:9", "main", "main", workflows=[hello, other])


async def test_new_events_extend_the_cached_history(offline_worker: Worker) -> None:
    history = History().scheduled(1, "greet")
    assert [e.seq for e in await offline_worker._history(task(history, 1))] == [1, 2]
    history.completed(1, "hi").signal("go")
    assert [e.seq for e in await offline_worker._history(task(history, 3))] == [1, 2, 3, 4]


async def test_a_history_missing_from_the_cache_is_read_from_the_api(
    offline_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History().scheduled(1, "greet").completed(1, "hi")
    asked: list[str] = []

    async def events(workflow_id: str, **options: Any) -> list[HistoryEvent]:
        asked.append(workflow_id)
        return history.events[:2]

    monkeypatch.setattr(offline_worker._client.workflows, "events", events)
    assert [e.seq for e in await offline_worker._history(task(history, 3))] == [1, 2, 3]
    assert asked == ["order-1"]


async def test_an_unreachable_api_is_retried_until_shutdown(caplog: pytest.LogCaptureFixture) -> None:
    worker = Worker("http://127.0.0.1:9", "main", "main", workflows=[hello])
    running = asyncio.create_task(worker.run())

    async def retrying() -> bool:
        return any("registering the worker failed" in r.getMessage() for r in caplog.records)

    await eventually(retrying, what="a failed registration")
    await worker.shutdown()
    await running
    assert worker.worker_id is None
