"""Assay's events, straight from NATS JetStream, for systems that react to what happens in Assay.

```python
from assay.events import subscribe
from assay_common.events.schemas.workflow import NamespaceCreated

async with subscribe("billing-sync", servers="nats://127.0.0.1:4222",
                     types=["assay.workflow.namespace_created"]) as subscription:
    async for event in subscription:
        if isinstance(event.payload, NamespaceCreated):
            await provision_billing(event.payload.namespace)
```

A subscription is a durable JetStream pull consumer named by you: it remembers on the server which
events you have handled, so a subscriber that stops and comes back (or any number of replicas
sharing the name) carries on where it left off.

Acknowledgement follows the loop: an event is acknowledged when your loop body is done with it,
that is when the loop asks for the next event, or when the `async with` block is left normally
(including by `break`). If the body raises, the event is not acknowledged: it is handed back to
the server at once and delivered again to the next subscriber of that name. While your body runs,
the subscription tells the server the event is still being worked on, so a slow handler is not
mistaken for a dead one. Delivery is at least once: de-duplicate on `event.id` where it matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Literal

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from assay._event import Event, parse_event
from assay_common.events.envelope import CloudEvent, EventData
from assay_common.events.subjects import Subjects, check_token

__all__ = ["CloudEvent", "Event", "EventData", "Start", "Subscription", "SubscriptionError", "subscribe"]

log = logging.getLogger("assay.events")

#: NATS as `assay up` and the deployment files run it.
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
#: How long one pull request waits on the server for new events before it is renewed.
_FETCH_SECONDS = 5.0

#: Where a new subscription starts: every event the stream still holds (`"all"`), only events
#: published from now on (`"new"`), or the event with this stream sequence and those after it.
Start = Literal["all", "new"] | int


class SubscriptionError(Exception):
    """The subscription cannot be made as asked: NATS is unreachable, the stream does not exist,
    or the name is taken by a subscription with other filters."""


def subscribe(
    name: str,
    *,
    servers: str | Sequence[str] = DEFAULT_NATS_URL,
    connection: NatsClient | None = None,
    service: str | None = None,
    namespace: str | None = None,
    types: Sequence[str] = (),
    start: Start = "all",
    stream: str = "ASSAY_EVENTS",
    subject_prefix: str = "assay",
    ack_wait: float = 30.0,
    batch_size: int = 32,
    connect_within: float = 10.0,
) -> Subscription:
    """A durable subscription to Assay's events; use it as `async with subscribe(...) as s:`.

    `name` names the durable consumer on the server: subscribing again with the same name resumes
    after the last acknowledged event; replicas sharing a name share the work (each event goes to
    one of them). Connect with `servers` (one URL or several), or hand over a `connection` you
    manage yourself (credentials, TLS); it is then left open.

    Filters: `service` (e.g. `"workflow"`), `namespace`, and `types` (CloudEvents types such as
    `"assay.workflow.namespace_created"`; any of them). A subscription's filters are fixed when it
    is first created; subscribing with the same name and other filters raises `SubscriptionError`.
    `start` only matters then, too: `"all"` (default) also delivers what the stream already holds,
    `"new"` only what is published afterwards, an integer starts at that stream sequence.

    `stream` and `subject_prefix` match a deployment's `ASSAY_EVENTS_STREAM` and
    `ASSAY_SUBJECT_PREFIX`. `ack_wait` is how long the server waits for an acknowledgement before
    it delivers an event again (the subscription keeps extending it while your code runs);
    `batch_size` is how many events are fetched per round trip. `connect_within` is how many
    seconds to keep trying to reach NATS before `SubscriptionError`; once connected, a lost
    connection is re-established for as long as it takes.

    Raises `ValueError` at once for an invalid name or filter.
    """
    check_token(name, "subscription name")
    for value, what in (
        (service, "service"),
        (namespace, "namespace"),
        (stream, "stream"),
        (subject_prefix, "subject prefix"),
    ):
        if value is not None:
            check_token(value, what)
    for event_type in types:
        parts = event_type.split(".")
        if len(parts) != 3 or parts[0] != "assay":
            raise ValueError(f"type {event_type!r} is not of the form assay.<service>.<name>")
        check_token(parts[1], "service of a type")
        check_token(parts[2], "name of a type")
        if service is not None and parts[1] != service:
            raise ValueError(f"type {event_type!r} is not published by the service {service!r}")
    if isinstance(start, int) and start < 1:
        raise ValueError("start must be 'all', 'new' or a stream sequence (1 or more)")
    if ack_wait <= 0 or connect_within <= 0 or batch_size < 1:
        raise ValueError("ack_wait and connect_within must be positive, batch_size at least 1")

    # One filter subject per consumer (servers before 2.10 take no more); several types of
    # different services or names are told apart here, by the CloudEvents type.
    kinds = {(t.split(".")[1], t.split(".")[2]) for t in types}
    type_services = {kind_service for kind_service, _ in kinds}
    subject_service = service or (next(iter(type_services)) if len(type_services) == 1 else None)
    subject_name = next(iter(kinds))[1] if len(kinds) == 1 else None
    subjects = Subjects(events_prefix=subject_prefix, events_stream=stream)
    return Subscription(
        name,
        servers=[servers] if isinstance(servers, str) else list(servers),
        connection=connection,
        stream=stream,
        filter_subject=subjects.events_filter(subject_service, namespace, subject_name),
        types=frozenset(types),
        start=start,
        ack_wait=ack_wait,
        batch_size=batch_size,
        connect_within=connect_within,
    )


class Subscription:
    """An open durable subscription: `async for event in subscription:` yields `Event`s in stream
    order. Made by `subscribe()`; see this module's documentation for when events are acknowledged."""

    def __init__(
        self,
        name: str,
        *,
        servers: list[str],
        connection: NatsClient | None,
        stream: str,
        filter_subject: str,
        types: frozenset[str],
        start: Start,
        ack_wait: float,
        batch_size: int,
        connect_within: float,
    ) -> None:
        self.name = name
        self.stream = stream
        #: The NATS subject filter of the durable consumer, e.g. `assay.workflow.*.namespace_created`.
        self.filter_subject = filter_subject
        self._servers = servers
        self._connection = connection
        self._types = types
        self._start = start
        self._ack_wait = ack_wait
        self._batch_size = batch_size
        self._connect_within = connect_within
        self._nc: NatsClient | None = None
        self._pull: JetStreamContext.PullSubscription | None = None
        self._buffer: deque[Msg] = deque()
        self._current: Msg | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._is_closing = False

    async def __aenter__(self) -> Subscription:
        try:
            await self._open()
        except BaseException:
            await self._close(acknowledge=False)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self._close(acknowledge=exc_type is None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        """Acknowledge the previous event (its body is done), then wait for the next one."""
        if self._pull is None:
            raise RuntimeError("use the subscription inside `async with subscribe(...)`")
        current, self._current = self._current, None
        if current is not None:
            await self._acknowledge(current)
        while True:
            while not self._buffer:
                await self._fetch()
            message = self._buffer.popleft()
            try:
                event = parse_event(message.metadata.sequence.stream, message.data)
            except ValidationError:
                log.error(
                    "subscription %s: stream message %d is not a CloudEvent; dropping it",
                    self.name,
                    message.metadata.sequence.stream,
                )
                # Never deliverable, so never to be delivered again either.
                with contextlib.suppress(nats.errors.Error):
                    await message.term()
                continue
            if self._types and event.type not in self._types:
                await self._acknowledge(message)
                continue
            self._current = message
            return event

    async def _open(self) -> None:
        if self._connection is not None:
            self._nc = self._connection
        else:
            try:
                # Once connected, a lost connection is retried for as long as it takes.
                self._nc = await asyncio.wait_for(
                    nats.connect(
                        self._servers,
                        name=f"assay-subscription-{self.name}",
                        connect_timeout=2,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.5,
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                    ),
                    self._connect_within,
                )
            except (OSError, TimeoutError, nats.errors.Error) as exc:
                raise SubscriptionError(
                    f"cannot reach NATS at {', '.join(self._servers)} within {self._connect_within:g}s"
                    f"{f' ({exc})' if str(exc) else ''}"
                ) from exc
        js = self._nc.jetstream()
        await self._ensure_consumer(js)
        self._pull = await js.pull_subscribe_bind(durable=self.name, stream=self.stream)
        self._keepalive = asyncio.create_task(
            self._keep_in_progress(), name=f"assay-subscription-{self.name}"
        )

    async def _ensure_consumer(self, js: JetStreamContext) -> None:
        """Bind to the durable consumer, creating it on first use; its position lives on the server."""
        try:
            info = await js.consumer_info(self.stream, self.name)
        except nats.js.errors.NotFoundError:
            info = None
        if info is not None:
            existing = info.config.filter_subject or ", ".join(info.config.filter_subjects or [])
            if existing != self.filter_subject:
                raise SubscriptionError(
                    f"the subscription {self.name!r} exists with the filter {existing!r}, not "
                    f"{self.filter_subject!r}; subscribe under another name for other filters"
                )
            return
        if self._start == "all":
            policy, first = DeliverPolicy.ALL, None
        elif self._start == "new":
            policy, first = DeliverPolicy.NEW, None
        else:
            policy, first = DeliverPolicy.BY_START_SEQUENCE, self._start
        config = ConsumerConfig(
            durable_name=self.name,
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=policy,
            opt_start_seq=first,
            ack_wait=self._ack_wait,
        )
        try:
            # Creating a consumer that exists with this very configuration succeeds, so replicas
            # starting together agree on it.
            await js.add_consumer(self.stream, config)
        except nats.js.errors.NotFoundError as exc:
            raise SubscriptionError(
                f"there is no stream {self.stream!r} on this NATS server; "
                "is Assay running against it with these settings?"
            ) from exc

    async def _fetch(self) -> None:
        assert self._pull is not None
        with contextlib.suppress(TimeoutError):  # nats-py raises its own or the builtin one
            self._buffer.extend(await self._pull.fetch(self._batch_size, timeout=_FETCH_SECONDS))

    async def _acknowledge(self, message: Msg) -> None:
        # A confirmed ("double") acknowledgement: once it returns, the event is not delivered again.
        try:
            await message.ack_sync()
        except nats.errors.Error as exc:
            log.warning(
                "subscription %s: acknowledgement of stream message %d not confirmed (%s); "
                "it may be delivered again",
                self.name,
                message.metadata.sequence.stream,
                type(exc).__name__,
            )

    async def _keep_in_progress(self) -> None:
        """Extend the server's patience for every event held here, the one being handled included."""
        while True:
            await asyncio.sleep(self._ack_wait / 3)
            held = ([self._current] if self._current is not None else []) + list(self._buffer)
            for message in held:
                with contextlib.suppress(nats.errors.Error):
                    await message.in_progress()

    async def _on_error(self, error: Exception) -> None:
        log.info("subscription %s: NATS: %s", self.name, error or type(error).__name__)

    async def _on_disconnected(self) -> None:
        if not self._is_closing:
            log.warning("subscription %s: lost the connection to NATS; reconnecting", self.name)

    async def _on_reconnected(self) -> None:
        log.warning("subscription %s: reconnected to NATS", self.name)

    async def _close(self, *, acknowledge: bool) -> None:
        self._is_closing = True
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
            self._keepalive = None
        current, self._current = self._current, None
        if current is not None and acknowledge:
            await self._acknowledge(current)
        # Handed back at once rather than after `ack_wait`: the next subscriber gets them now.
        unhandled = ([current] if current is not None and not acknowledge else []) + list(self._buffer)
        self._buffer.clear()
        nc = self._nc
        with contextlib.suppress(nats.errors.Error):
            for message in unhandled:
                await message.nak()
            if self._pull is not None:
                await self._pull.unsubscribe()
            if nc is not None and nc.is_connected:
                await nc.flush()
        self._pull = None
        self._nc = None
        if nc is not None and self._connection is None:
            await nc.close()
