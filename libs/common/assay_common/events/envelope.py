"""The CloudEvents 1.0 envelope (structured JSON mode) and the base of every event payload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

Json = Any


class EventData(BaseModel):
    """Base of every event payload. Subclasses are registered with `@event_type`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Prefixed so that they never collide with payload fields such as `name` or `service`.
    event_service: ClassVar[str]
    event_name: ClassVar[str]
    event_summary: ClassVar[str]
    #: An audit record: published to the audit stream (`<audit prefix>.<service>.<name>`).
    event_audit: ClassVar[bool] = False

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvents `type`, e.g. `assay.workflow.namespace_created`."""
        return f"assay.{cls.event_service}.{cls.event_name}"


E = TypeVar("E", bound=type[EventData])

#: Every event type any Assay service can publish, by CloudEvents type.
CATALOGUE: dict[str, type[EventData]] = {}


def event_type(service: str, name: str, summary: str, *, audit: bool = False) -> Callable[[E], E]:
    """Register an event payload model under `assay.<service>.<name>`; `audit` marks an audit
    record, which its service publishes to the audit stream instead of the events stream."""

    def register(cls: E) -> E:
        cls.event_service, cls.event_name, cls.event_summary = service, name, summary
        cls.event_audit = audit
        existing = CATALOGUE.get(cls.type_name())
        if existing is not None and existing is not cls:
            raise ValueError(f"event type {cls.type_name()} registered twice")
        CATALOGUE[cls.type_name()] = cls
        return cls

    return register


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event with Assay's extension attributes `namespace` and `traceparent`."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="UUIDv7; also the JetStream Nats-Msg-Id, so duplicates are dropped")
    source: str = Field(description="The publishing service, e.g. `/assay/workflow`")
    type: str = Field(description="e.g. `assay.workflow.namespace_created`")
    subject: str | None = Field(default=None, description="What the event is about, e.g. `namespaces/main`")
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Json]
    namespace: str | None = None
    traceparent: str | None = None

    @property
    def service(self) -> str:
        return self.type.split(".")[1]

    @property
    def short_type(self) -> str:
        return self.type.split(".", 2)[2]

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        return cls.model_validate_json(raw)
