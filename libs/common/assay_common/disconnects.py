"""Stopping work the moment a client hangs up.

uvicorn does not cancel a request's handler when its client disconnects, and silently drops what
is sent afterwards; only `receive()` tells, with `http.disconnect`. A proxied long-poll or an
event stream would otherwise go on holding a service's answer, or a JetStream consumer, for
nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

T = TypeVar("T")


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended.

    On Python 3.11 a cancellation that meets a result at the same moment inside `asyncio.wait_for`
    (which httpx and nats-py use) is swallowed (CPython gh-86296) and the task carries on; so
    cancel again until it really ends.
    """
    if task.done():
        return
    task.cancel()
    # A task waiting on a future (a `receive()`, a response) ends in the loop's next turn.
    await asyncio.sleep(0)
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)


async def _disconnected(receive: Receive, ready: asyncio.Event | None) -> None:
    if ready is not None:
        await ready.wait()
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(
    receive: Receive,
    work: Coroutine[Any, Any, T],
    *,
    listen_after: asyncio.Event | None = None,
    discard: Callable[[T], Awaitable[None]] | None = None,
) -> T | None:
    """The result of `work`, or None when the client disconnected first (then `work` is cancelled).

    `listen_after` delays listening until the request body has been read: until then `receive()`
    belongs to whoever reads the body. `discard` releases a result that arrived after all.
    """
    working = asyncio.create_task(work)
    departed = asyncio.create_task(_disconnected(receive, listen_after))
    try:
        await asyncio.wait({working, departed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await stop(departed)
        await stop(working)
    if departed.cancelled():
        return working.result()
    if not working.cancelled() and working.exception() is None and discard is not None:
        await discard(working.result())
    return None
