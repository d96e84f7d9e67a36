"""The connection to NATS: JetStream streams for durable events, core NATS for wake-ups."""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from assay_common.events.subjects import Subjects

log = logging.getLogger("assay.bus")

#: JetStream drops a second message with the same Nats-Msg-Id within this window.
DUPLICATE_WINDOW_SECONDS = 300.0


class EventBus:
    """One NATS connection per process, shared by the relay, consumers and wake-ups."""

    def __init__(
        self,
        url: str,
        subjects: Subjects,
        *,
        events_max_age: float,
        audit_max_age: float,
        name: str = "assay",
    ) -> None:
        self.url = url
        self.subjects = subjects
        self.events_max_age = events_max_age
        self.audit_max_age = audit_max_age
        self.name = name
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None

    @property
    def nc(self) -> NatsClient:
        if self._nc is None:
            raise RuntimeError("the event bus is not connected")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        # One context for the connection: a context's first `publish_async` subscribes to an
        # inbox of its own for the acknowledgements, which a context made per call would leave
        # behind each time.
        if self._js is None:
            self._js = self.nc.jetstream()
        return self._js

    @property
    def is_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self, timeout: float = 30.0) -> None:
        """Connect, retrying until `timeout` (NATS may start after us), and keep reconnecting after."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                self._js = None
                self._nc = await nats.connect(
                    self.url,
                    name=self.name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    allow_reconnect=True,
                    drain_timeout=5,
                )
                return
            except (OSError, nats.errors.NoServersError, TimeoutError) as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                log.info("NATS not reachable yet (%s); retrying", type(exc).__name__)
                await asyncio.sleep(0.5)

    async def ensure_streams(self) -> None:
        """Create or update ASSAY_EVENTS and ASSAY_AUDIT; idempotent and safe from many replicas."""
        await self._ensure(self.subjects.events_stream, self.subjects.all_events, self.events_max_age)
        await self._ensure(self.subjects.audit_stream, self.subjects.all_audit, self.audit_max_age)

    async def _ensure(self, name: str, subject: str, max_age: float) -> None:
        config = StreamConfig(
            name=name,
            subjects=[subject],
            storage=StorageType.FILE,
            max_age=max_age,
            duplicate_window=min(DUPLICATE_WINDOW_SECONDS, max_age),
        )
        try:
            info = await self.js.stream_info(name)
        except NotFoundError:
            try:
                await self.js.add_stream(config)
                return
            except nats.js.errors.BadRequestError:
                # Another replica created it between our two calls; fall through to update.
                info = await self.js.stream_info(name)
        current = info.config
        if current.subjects != config.subjects or current.max_age != config.max_age:
            await self.js.update_stream(config)

    async def close(self) -> None:
        if self._nc is not None:
            try:
                await self._nc.drain()
            except (
                nats.errors.ConnectionClosedError,
                nats.errors.FlushTimeoutError,
                nats.errors.DrainTimeoutError,
            ):
                await self._nc.close()
            self._nc, self._js = None, None
