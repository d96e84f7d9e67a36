"""Following the auth service's revocation events, so the gateway's caches forget at once."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from nats.errors import Error as NatsError
from pydantic import ValidationError

from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent, EventData

log = logging.getLogger("assay.gateway.auth_events")

E = TypeVar("E", bound=EventData)


async def follow(bus: EventBus, event_type: type[E], handle: Callable[[E], object]) -> None:
    """Call `handle` with every platform-wide `event_type` event until cancelled. A plain
    subscription, no shared consumer: every gateway replica sees each event. One missed (while
    disconnected) only means that the cache window it would have cut short applies."""
    subject = bus.subjects.event(event_type.event_service, None, event_type.event_name)
    subscription = await bus.nc.subscribe(subject)
    try:
        async for message in subscription.messages:
            try:
                handle(event_type.model_validate(CloudEvent.from_json(message.data).data))
            except ValidationError:
                log.warning("ignored a %s message that is not one", event_type.event_name)
    finally:
        with contextlib.suppress(NatsError):
            await subscription.unsubscribe()
