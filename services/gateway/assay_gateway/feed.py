"""Reading ASSAY_EVENTS for one SSE client: which events it wants, and an ordered consumer.

The feed is an ephemeral JetStream push consumer that starts at an exact stream sequence and
checks every delivery's consumer sequence. A gap (a message lost on the wire or to a reconnect)
or silence where heartbeats were due makes it recreate the consumer from the sequence after the
last one handed out, so a client sees every matching event once, in stream order, from its cursor
on: replay flows into live delivery with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, Header

from assay_common.errors import Gone, Invalid, Unavailable
from assay_common.events.subjects import Subjects, check_token

log = logging.getLogger("assay.gateway.feed")

#: The server removes a consumer whose client vanished without deleting it (a crashed gateway).
ORPHAN_THRESHOLD_SECONDS = 30.0
_STATUS_CONTROL = "100"


class CursorExpired(Gone):
    code = "cursor_expired"
    title = "The events after this cursor are no longer retained"


class InvalidEventFilter(Invalid):
    code = "invalid_event_filter"
    title = "Invalid event filter"


@dataclass(frozen=True)
class EventFilter:
    """Which events a client wants. The NATS subject filter narrows what the server sends; the
    rest (several types, CloudEvents `subject`, workflow id) is checked here, per event."""

    namespace: str | None = None
    service: str | None = None
    types: frozenset[str] = frozenset()
    subject: str | None = None
    workflow_id: str | None = None

    @classmethod
    def of(
        cls,
        *,
        namespace: str | None,
        service: str | None,
        types: list[str],
        subject: str | None,
        workflow_id: str | None,
    ) -> EventFilter:
        try:
            if namespace is not None:
                check_token(namespace, "namespace")
            if service is not None:
                check_token(service, "service")
            for event_type in types:
                parts = event_type.split(".")
                if len(parts) != 3 or parts[0] != "assay":
                    raise ValueError(f"type {event_type!r} is not of the form assay.<service>.<name>")
                check_token(parts[1], "service of type")
                check_token(parts[2], "name of type")
                if service is not None and parts[1] != service:
                    raise ValueError(f"type {event_type!r} is not published by the service {service!r}")
        except ValueError as exc:
            raise InvalidEventFilter(str(exc)) from None
        return cls(namespace, service, frozenset(types), subject, workflow_id)

    def nats_subject(self, subjects: Subjects) -> str:
        """One filter subject (servers before 2.10 take only one per consumer), wildcards for the rest."""
        type_services = {t.split(".")[1] for t in self.types}
        service = self.service or (next(iter(type_services)) if len(type_services) == 1 else None)
        name = next(iter(self.types)).split(".")[2] if len(self.types) == 1 else None
        return subjects.events_filter(service, self.namespace, name)

    def matches(self, event: dict[str, Any]) -> bool:
        if self.types and event.get("type") not in self.types:
            return False
        if self.subject is not None and event.get("subject") != self.subject:
            return False
        if self.workflow_id is not None:
            data = event.get("data")
            about_workflow = event.get("subject") == f"workflows/{self.workflow_id}"
            carries_workflow = isinstance(data, dict) and data.get("workflow_id") == self.workflow_id
            if not (about_workflow or carries_workflow):
                return False
        return True


@dataclass(frozen=True)
class StreamEvent:
    """One event as read from the stream."""

    sequence: int
    event: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.event["type"])


class _Consumer:
    """One incarnation of the feed's consumer: its delivery inbox and its name on the server."""

    def __init__(self, subscription: Subscription, name: str) -> None:
        self.subscription = subscription
        self.name = name
        self.delivered = 0  # consumer sequence of the last delivery


class EventFeed:
    """An ordered, ephemeral consumer of the events stream. `open`, then `next` until done, `close`."""

    def __init__(self, nc: NatsClient, subjects: Subjects, filter_subject: str, *, heartbeat: float) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.stream = subjects.events_stream
        self.filter_subject = filter_subject
        # The consumer proves it is alive this often while idle; two missed beats mean it is gone.
        self.heartbeat = heartbeat
        self.next_sequence = 0
        self._consumer: _Consumer | None = None
        self._last_activity = 0.0

    async def open(self, after: int | None) -> None:
        """Start after the stream sequence `after` (a client's cursor), or with new events only.

        Raises `CursorExpired` when events after `after` have already left the stream.
        """
        try:
            if after is None:
                self.next_sequence = (await self.js.stream_info(self.stream)).state.last_seq + 1
                await self._start()
                return
            self.next_sequence = after + 1
            await self._start()
            # Checked once the consumer exists: retention can only move the head forward, so if
            # `after + 1` is still retained now, it was when the consumer started at it.
            state = (await self.js.stream_info(self.stream)).state
        except (nats.errors.Error, TimeoutError) as exc:
            await self.close()
            raise Unavailable(f"the event stream cannot be read right now ({type(exc).__name__})") from None
        if after + 1 < state.first_seq or after > state.last_seq:
            await self.close()
            raise CursorExpired(
                f"event {after} is not in the stream (it holds {state.first_seq}..{state.last_seq}); "
                "reconnect without Last-Event-ID and reload the current state",
                first_retained=state.first_seq,
            )

    async def next(self, within: float) -> StreamEvent | None:
        """The next event in stream order, or None when none came within `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            now = loop.time()
            consumer = self._consumer
            silence_limit = self._last_activity + 2 * self.heartbeat
            is_silent = now >= silence_limit
            # Messages already buffered mean the client was slow to read, not that NATS went quiet.
            if is_silent and (consumer is None or consumer.subscription.pending_msgs == 0):
                log.info("event consumer fell silent; resuming at %d", self.next_sequence)
                await self._restart()
                continue
            if now >= deadline:
                return None
            # Always a positive wait: a zero timeout would give up before even a buffered message.
            wait = (deadline if is_silent else min(deadline, silence_limit)) - now
            if consumer is None:
                await asyncio.sleep(wait)
                continue
            try:
                msg = await consumer.subscription.next_msg(timeout=wait)
            except TimeoutError:
                continue
            self._last_activity = loop.time()
            event = await self._accept(consumer, msg)
            if event is not None:
                return event

    async def close(self) -> None:
        """Stop delivery and delete the consumer now, rather than when the server notices."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            # Shielded: a cancelled caller must not leave the consumer half torn down.
            await asyncio.shield(self._discard(consumer))

    async def _accept(self, consumer: _Consumer, msg: Msg) -> StreamEvent | None:
        status = msg.headers.get(Header.STATUS) if msg.headers else None
        if status == _STATUS_CONTROL:
            await self._control(consumer, msg)
            return None
        if status is not None:
            # The server ended this consumer (deleted, leadership change…): carry on with a new one.
            log.info("event consumer ended with status %s; resuming at %d", status, self.next_sequence)
            await self._restart()
            return None
        metadata = msg.metadata
        if metadata.sequence.consumer != consumer.delivered + 1:
            log.info("event delivery skipped a message; resuming at %d", self.next_sequence)
            await self._restart()
            return None
        consumer.delivered = metadata.sequence.consumer
        self.next_sequence = metadata.sequence.stream + 1
        try:
            event = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            log.warning("skipping stream message %d: not a CloudEvent", metadata.sequence.stream)
            return None
        return StreamEvent(metadata.sequence.stream, event)

    async def _control(self, consumer: _Consumer, msg: Msg) -> None:
        if msg.reply:
            # Flow control: answering once every earlier message has been handed out is what
            # keeps the server from sending faster than this client reads.
            await self.nc.publish(msg.reply)
            return
        headers = msg.headers or {}
        stalled = headers.get(Header.CONSUMER_STALLED)
        if stalled:
            await self.nc.publish(stalled)
        last_delivered = headers.get(Header.LAST_CONSUMER)
        if last_delivered is not None and int(last_delivered) != consumer.delivered:
            log.info("event heartbeat reports undelivered messages; resuming at %d", self.next_sequence)
            await self._restart()

    async def _start(self) -> None:
        inbox = self.nc.new_inbox()
        consumer = _Consumer(await self.nc.subscribe(inbox), f"sse-{secrets.token_hex(8)}")
        # Known before it exists, so that `close` deletes it even when creating it fails or is
        # interrupted half-way; a consumer that never came to be is then simply not found.
        self._consumer = consumer
        self._last_activity = asyncio.get_running_loop().time()
        await self.js.add_consumer(
            self.stream,
            ConsumerConfig(
                name=consumer.name,
                deliver_subject=inbox,
                filter_subject=self.filter_subject,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self.next_sequence,
                ack_policy=AckPolicy.NONE,
                max_deliver=1,
                flow_control=True,
                idle_heartbeat=self.heartbeat,
                inactive_threshold=ORPHAN_THRESHOLD_SECONDS,
                mem_storage=True,
                num_replicas=1,
            ),
        )

    async def _restart(self) -> None:
        """A fresh consumer (and inbox, so nothing of the old one arrives) at `next_sequence`."""
        await self.close()
        try:
            await self._start()
        except (nats.errors.Error, TimeoutError) as exc:
            # NATS is away; keep the client's connection and try again after another silence.
            log.warning("cannot resume the event consumer yet: %s", type(exc).__name__)
            self._last_activity = asyncio.get_running_loop().time()

    async def _discard(self, consumer: _Consumer) -> None:
        with contextlib.suppress(nats.errors.Error):
            await consumer.subscription.unsubscribe()
        try:
            await self.js.delete_consumer(self.stream, consumer.name)
        except nats.js.errors.NotFoundError:
            pass
        except (nats.errors.Error, TimeoutError) as exc:
            # The server drops it by itself after ORPHAN_THRESHOLD_SECONDS without a subscriber.
            log.info("could not delete event consumer %s now: %s", consumer.name, type(exc).__name__)
