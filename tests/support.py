"""Helpers for tests: waiting with deadlines, reading streams."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nats.js.api import RawStreamMsg

from assay_common.events.bus import EventBus


async def stream_messages(bus: EventBus, stream: str | None = None) -> list[RawStreamMsg]:
    """Every message now in the stream, in order."""
    name = stream or bus.subjects.events_stream
    info = await bus.js.stream_info(name)
    if info.state.messages == 0:
        return []
    return [await bus.js.get_msg(name, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]


async def eventually(
    predicate: Callable[[], Awaitable[bool]], *, within: float = 10.0, what: str = "condition"
) -> None:
    """Poll `predicate` until it holds or `within` seconds pass (then fail)."""
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not hold within {within}s")
        await asyncio.sleep(0.02)
