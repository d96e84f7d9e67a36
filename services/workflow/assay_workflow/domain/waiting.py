"""Long-polls: look, and if there is nothing yet, wait for a wake-up (from any replica) or until
something becomes due, then look again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from assay_common.db import utcnow
from assay_common.events.wakeups import Wakeups

T = TypeVar("T")


async def wait_for(
    wakeups: Wakeups,
    topic: str,
    wait_seconds: float,
    look: Callable[[], Awaitable[tuple[T | None, datetime | None]]],
) -> T | None:
    """Call `look` until it finds something or `wait_seconds` pass. `look` returns what it found
    and, when nothing, the time something it knows of becomes due (so we look again then)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        remaining = deadline - loop.time()
        # Listen before looking: a wake-up sent between the look and the wait is not lost.
        waiter = asyncio.create_task(wakeups.wait(topic, max(remaining, 0)))
        await asyncio.sleep(0)
        try:
            # A poll may be cancelled (its caller hung up) at any moment, but never inside a
            # transaction: a cut-short transaction can leave its connection holding SQLite's
            # write lock. The look runs to its end; only the wait between looks is cancellable.
            found, due_at = await asyncio.shield(asyncio.ensure_future(look()))
            if found is not None or remaining <= 0 or wakeups.is_closing:
                return found
            timeout = remaining
            if due_at is not None:
                timeout = min(timeout, max((due_at - utcnow()).total_seconds(), 0))
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
