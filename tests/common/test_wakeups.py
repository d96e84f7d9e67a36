"""Wake-ups over core NATS reach waiters on every replica."""

from __future__ import annotations

import asyncio

from assay_common.events.bus import EventBus
from assay_common.events.wakeups import Wakeups


async def test_notify_wakes_a_waiter_on_another_connection(bus: EventBus) -> None:
    other = EventBus(bus.url, bus.subjects, events_max_age=3600, audit_max_age=3600)
    await other.connect()
    listener, sender = Wakeups(other, "workflow"), Wakeups(bus, "workflow")
    await listener.start()
    try:
        waiting = asyncio.create_task(listener.wait("queue-a", timeout=10))
        await _until_waiting(listener, "queue-a")
        await sender.notify("queue-a")
        assert await waiting is True
    finally:
        await listener.stop()
        await other.close()


async def test_wait_times_out_when_nobody_notifies(bus: EventBus) -> None:
    wakeups = Wakeups(bus, "workflow")
    await wakeups.start()
    try:
        assert await wakeups.wait("queue-b", timeout=0.05) is False
    finally:
        await wakeups.stop()


async def test_notifying_one_topic_does_not_wake_another(bus: EventBus) -> None:
    wakeups = Wakeups(bus, "workflow")
    await wakeups.start()
    try:
        other_topic = asyncio.create_task(wakeups.wait("queue-c", timeout=0.3))
        woken = asyncio.create_task(wakeups.wait("queue-d", timeout=10))
        await _until_waiting(wakeups, "queue-d")
        await wakeups.notify("queue-d")
        assert await woken is True
        assert await other_topic is False
    finally:
        await wakeups.stop()


async def _until_waiting(wakeups: Wakeups, topic: str) -> None:
    # The waiter registers synchronously on its first step; a few loop turns suffice.
    for _ in range(100):
        if wakeups.waiting_on(topic):
            return
        await asyncio.sleep(0)
    raise AssertionError("the waiter never registered")
