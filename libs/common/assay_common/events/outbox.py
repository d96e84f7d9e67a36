"""The transactional outbox: an event is written in the same transaction as the state it reports.

The relay (`assay_common.events.relay`) publishes committed rows to JetStream. A row is the
complete CloudEvent plus its subject, so publishing needs no further lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from opentelemetry import propagate

from assay_common.db import Transaction, UtcDateTime, utcnow, uuid7
from assay_common.events.envelope import CloudEvent, EventData
from assay_common.events.subjects import Subjects


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True, comment="the CloudEvent id (UUIDv7)"),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False, comment="the CloudEvent, structured JSON"),
        sa.Column("traceparent", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def processed_events_table(metadata: sa.MetaData) -> sa.Table:
    """Which events each durable consumer has handled: makes handlers idempotent."""
    return sa.Table(
        "processed_events",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("processed_at", UtcDateTime, nullable=False),
    )


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


class Outbox:
    """Adds events to a service's outbox table inside the caller's transaction."""

    def __init__(self, service: str, table: sa.Table, subjects: Subjects) -> None:
        self.service = service
        self.table = table
        self.subjects = subjects
        self._insert = table.insert()  # built once: see assay_common.db.insert_ignoring_conflict
        # Set by the relay so that a commit wakes it at once.
        self.on_commit: Callable[[], None] = _noop

    async def add(
        self,
        tx: Transaction,
        data: EventData,
        *,
        namespace: str | None = None,
        subject: str | None = None,
        audit: bool = False,
    ) -> CloudEvent:
        """Write `data` as an event; it is published only if `tx` commits."""
        event, row = self._event_row(data, namespace, subject, audit, current_traceparent())
        await tx.execute(self._insert, row)
        tx.after_commit(self.on_commit)
        return event

    async def add_all(
        self, tx: Transaction, items: Sequence[tuple[EventData, str | None]], *, audit: bool = False
    ) -> None:
        """Write each of `items` (an event's data and the `traceparent` of the request it comes
        from) as an event, with one statement for them all (audit records written together);
        they are published only if `tx` commits."""
        if not items:
            return
        rows = [self._event_row(data, None, None, audit, traceparent)[1] for data, traceparent in items]
        await tx.execute(self._insert, rows)
        tx.after_commit(self.on_commit)

    def _event_row(
        self,
        data: EventData,
        namespace: str | None,
        subject: str | None,
        audit: bool,
        traceparent: str | None,
    ) -> tuple[CloudEvent, dict[str, object]]:
        if data.event_service != self.service:
            raise ValueError(f"{self.service} cannot publish {data.type_name()}")
        event = CloudEvent(
            id=str(uuid7()),
            source=f"/assay/{self.service}",
            type=data.type_name(),
            subject=subject,
            time=utcnow(),
            data=data.model_dump(mode="json"),
            namespace=namespace,
            traceparent=traceparent,
        )
        nats_subject = (
            self.subjects.audit(self.service, data.event_name)
            if audit
            else self.subjects.event(self.service, namespace, data.event_name)
        )
        row: dict[str, object] = {
            "id": event.id,
            "subject": nats_subject,
            "body": event.to_json(),
            "traceparent": event.traceparent,
            "created_at": event.time,
        }
        return event, row


def _noop() -> None:
    return None
