"""Workers of the SDK against the running platform, one namespace per test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import pytest

from assay.client import AssayClient
from assay.worker import Worker
from tests.conftest import Stack


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[AssayClient]:
    async with AssayClient(stack.url, timeout=30) as client:
        yield client


@pytest.fixture
async def namespace(stack: Stack, unique: str) -> str:
    response = await stack.client.post("/api/v1/namespaces", json={"name": unique})
    assert response.status_code == 201, response.text
    return unique


class StartWorker(Protocol):
    def __call__(
        self, *, workflows: Iterable[Callable[..., Any]] = (), activities: Iterable[Callable[..., Any]] = ()
    ) -> contextlib.AbstractAsyncContextManager[Worker]: ...


@pytest.fixture
def worker(client: AssayClient, namespace: str) -> StartWorker:
    """`async with worker(workflows=[...], activities=[...]):` a worker running in the background."""

    @contextlib.asynccontextmanager
    async def running(
        *, workflows: Iterable[Callable[..., Any]] = (), activities: Iterable[Callable[..., Any]] = ()
    ) -> AsyncIterator[Worker]:
        started = Worker(
            client, namespace, "main", workflows=workflows, activities=activities, shutdown_grace=5
        )
        task = asyncio.create_task(started.run())
        try:
            yield started
        finally:
            await started.shutdown()
            await task

    return running
