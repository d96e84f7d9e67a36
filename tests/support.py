"""Helpers for tests: waiting with deadlines, reading streams."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RawStreamMsg

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


async def subject_messages(nats_url: str, stream: str, subject: str) -> list[RawStreamMsg]:
    """Every message now in `stream` on `subject` (wildcards allowed), in order. An ephemeral
    consumer counts the matches first, so the read stops exactly at the last one."""
    import nats

    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=10
        )
        subscription = await js.pull_subscribe(subject, stream=stream, config=config)
        try:
            remaining = (await subscription.consumer_info()).num_pending or 0
            found: list[RawStreamMsg] = []
            while remaining > 0:
                batch = await subscription.fetch(min(remaining, 256), timeout=5)
                remaining -= len(batch)
                found += [
                    RawStreamMsg(
                        subject=m.subject,
                        seq=m.metadata.sequence.stream,
                        data=m.data,
                        headers=dict(m.headers or {}),
                    )
                    for m in batch
                ]
            return found
        finally:
            await subscription.unsubscribe()
    finally:
        await connection.close()
