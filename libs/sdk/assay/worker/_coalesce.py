"""Natural batching: while one request is out, what else comes to be sent waits, then goes in
the next request together. One item alone goes at once, so nothing waits for a batch to fill."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """Sends items through `send` (a list in, one result per item out, in order), at most
    `max_batch` per call and one call at a time."""

    def __init__(self, send: Callable[[list[Item]], Awaitable[list[Result]]], max_batch: int) -> None:
        self._send = send
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """`item`'s result, or the exception its batch's call raised."""
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    results = await self._send([item for item, _ in batch])
                except BaseException as exc:
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, answer), result in zip(batch, results, strict=True):
                    if not answer.done():
                        answer.set_result(result)
        finally:
            self._drainer = None
            # Cancelled (the loop is closing): nothing waits for an answer that will not come.
            for _, answer in self._waiting:
                answer.cancel()
            self._waiting.clear()
