"""The examples run end to end: their own workflows and activities in a worker, one namespace per
test, on each example's task queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import pytest

from assay.client import AssayClient
from assay.worker import Worker
from tests.sdk_workflow.conftest import client, namespace

__all__ = ["ExampleWorker", "client", "example_worker", "namespace"]


class ExampleWorker(Protocol):
    def __call__(
        self,
        task_queue: str,
        workflows: Iterable[Callable[..., Any]],
        activities: Iterable[Callable[..., Any]],
    ) -> contextlib.AbstractAsyncContextManager[Worker]: ...


@pytest.fixture
def example_worker(client: AssayClient, namespace: str) -> ExampleWorker:
    """`async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):` the example's worker, running
    in the background as `python -m examples.<name>.worker` would run it."""

    @contextlib.asynccontextmanager
    async def running(
        task_queue: str, workflows: Iterable[Callable[..., Any]], activities: Iterable[Callable[..., Any]]
    ) -> AsyncIterator[Worker]:
        started = Worker(
            client, namespace, task_queue, workflows=workflows, activities=activities, shutdown_grace=5
        )
        task = asyncio.create_task(started.run())
        try:
            yield started
        finally:
            await started.shutdown()
            await task

    return running
