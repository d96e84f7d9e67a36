"""The event as the SDK hands it out: the CloudEvent envelope, its stream sequence, a typed payload."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

import assay_common.events.schemas  # noqa: F401  (registers every payload model in CATALOGUE)
from assay_common.events.envelope import CATALOGUE, CloudEvent, EventData

log = logging.getLogger("assay.events")


@dataclass(frozen=True)
class Event:
    """One Assay event.

    `envelope` is the CloudEvents 1.0 envelope as published. `payload` is its `data` parsed into
    the model registered for its type (for example `NamespaceCreated` for
    `assay.workflow.namespace_created`), or the raw `dict` when this SDK does not know the type or
    the data does not fit the model (a newer server). `sequence` is the event's position in the
    events stream: resuming "after sequence N" never returns it again.
    """

    sequence: int
    envelope: CloudEvent
    payload: EventData | dict[str, Any]

    @property
    def id(self) -> str:
        """The event's unique id (UUIDv7): the key to de-duplicate on, since delivery is at least once."""
        return self.envelope.id

    @property
    def type(self) -> str:
        """The CloudEvents type, e.g. `assay.workflow.namespace_created`."""
        return self.envelope.type

    @property
    def service(self) -> str:
        """The service that published the event, e.g. `workflow`."""
        return self.envelope.service

    @property
    def namespace(self) -> str | None:
        """The namespace the event belongs to, or None for platform-wide events."""
        return self.envelope.namespace

    @property
    def subject(self) -> str | None:
        """What the event is about, e.g. `namespaces/main`."""
        return self.envelope.subject

    @property
    def time(self) -> datetime:
        """When the event happened."""
        return self.envelope.time

    @property
    def data(self) -> dict[str, Any]:
        """The payload exactly as published (JSON)."""
        return self.envelope.data

    def to_json_dict(self) -> dict[str, Any]:
        """The envelope as JSON-ready data, with the stream sequence first under `seq`."""
        return {"seq": self.sequence, **self.envelope.model_dump(mode="json", exclude_none=True)}


def parse_event(sequence: int, raw: bytes | str) -> Event:
    """The event in `raw` (a CloudEvent in JSON); raises `pydantic.ValidationError` when it is none."""
    envelope = CloudEvent.from_json(raw)
    return Event(sequence, envelope, typed_payload(envelope))


def typed_payload(envelope: CloudEvent) -> EventData | dict[str, Any]:
    """The envelope's data as its registered model, or as it is when there is none or it does not fit."""
    model = CATALOGUE.get(envelope.type)
    if model is None:
        return envelope.data
    try:
        return model.model_validate(envelope.data)
    except ValidationError as exc:
        log.warning(
            "event %s of type %s does not match %s (%d errors); keeping its raw data",
            envelope.id,
            envelope.type,
            model.__name__,
            exc.error_count(),
        )
        return envelope.data
