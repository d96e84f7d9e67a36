"""Honouring a cancellation that a library swallowed.

nats-py's request helpers (`fetch`, `publish` with its ack, `consumers_info`, …) can catch the
`CancelledError` of a cancellation that lands just as one of their waits ends, and return or raise
something else. A background loop that goes on after that would never stop: a shutdown or a test
waiting for it would wait forever. The cancellation stays requested on the task, so every such loop
calls `raise_if_cancelled` at the top of each turn.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise `CancelledError` if this task was asked to stop (and something swallowed it)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError
