"""Ephemeral wake-ups over core NATS: "queue X has work", heard by every replica at once.

Losing one is harmless (waiters also time out and look again), so they never touch JetStream.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from assay_common.events.bus import EventBus


class Wakeups:
    """Publish and await wake-ups for one service's topics."""

    def __init__(self, bus: EventBus, service: str) -> None:
        self.bus = bus
        self.service = service
        self._prefix = bus.subjects.wakeup(service, "")
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._subscription: Subscription | None = None
        self._closing = False

    @property
    def is_closing(self) -> bool:
        """True once the service is stopping: long-polls answer now instead of waiting."""
        return self._closing

    def release_all(self) -> None:
        """Wake every waiter and make later waits return at once (the service is stopping)."""
        self._closing = True
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.set()

    async def start(self) -> None:
        self._subscription = await self.bus.nc.subscribe(f"{self._prefix}>", cb=self._on_message)
        # Make sure the server knows of the interest before anyone relies on being woken.
        await self.bus.nc.flush()

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def notify(self, topic: str) -> None:
        """Wake everyone waiting on `topic`, in this process and on every other replica."""
        # Waiters here need not wait for the message's trip through NATS (its echo wakes
        # whoever waits by then, which costs that waiter one more look, never a missed wake-up).
        self._wake(topic)
        await self.bus.nc.publish(self.bus.subjects.wakeup(self.service, topic), b"")

    async def wait(self, topic: str, timeout: float) -> bool:
        """Wait until `topic` is notified or `timeout` passes; True when woken."""
        if self._closing:
            return False
        waiter = asyncio.Event()
        self._waiters[topic].add(waiter)
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters[topic]
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[topic]

    def waiting_on(self, topic: str) -> int:
        """How many waiters this process has on `topic`."""
        return len(self._waiters.get(topic, ()))

    async def _on_message(self, message: Msg) -> None:
        self._wake(message.subject[len(self._prefix) :])

    def _wake(self, topic: str) -> None:
        for waiter in self._waiters.get(topic, ()):
            waiter.set()
