"""The audit log: every audit record of every service, as it arrived on the audit stream.

The auth service writes its records through the outbox in the same transaction as the action they
report, so an action without its record (or the reverse) cannot happen; other services publish
theirs (every service its `access_denied` refusals). A durable consumer, shared by all replicas,
copies every record of the audit stream (`<audit prefix>.>`) into the `audit_log` table, once each
(the event id is the row's key: storing a record again changes nothing), where they can be
queried. The common fields of a record (`actor_id`, `actor_kind`, `target_type`, `target_id`,
`client_address`) become columns, whichever service sent it.

The consumer of earlier releases (`auth-audit-log`) read only the auth service's subjects; a
durable consumer's filter cannot be changed on every NATS server, so this one has a name of its
own and the old one is deleted. The new one starts from the stream's oldest record: those stored
already are left as they are.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from nats.js.errors import NotFoundError

from assay_auth.domain.context import AuthContext
from assay_auth.domain.errors import InvalidCursor
from assay_auth.store import audit as store
from assay_auth.store.rows import AuditRow
from assay_common.db import Transaction
from assay_common.events.bus import EventBus
from assay_common.events.consumer import EventConsumer
from assay_common.events.envelope import CloudEvent

log = logging.getLogger("assay.auth.audit")

#: The durable consumer every replica of the auth service shares.
CONSUMER_NAME = "auth-audit-log-all"
#: How long the audit log lets records gather into one batch: a busy platform's records go in
#: fuller batches (one transaction and one round of fetch and acks each), a record is searchable
#: at most this much later.
AUDIT_LINGER_SECONDS = 0.05
#: The consumer of earlier releases (auth records only), deleted at start.
FORMER_CONSUMER_NAME = "auth-audit-log"


def _text(value: object, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def _row_of(event: CloudEvent) -> dict[str, Any] | None:
    """The audit log's row for a record; None for what is not an Assay record."""
    if not event.type.startswith("assay.") or event.type.count(".") < 2:
        log.warning("ignoring %s on the audit subjects: not an Assay record", event.type)
        return None
    data = event.data
    return {
        "id": event.id,
        "occurred_at": event.time,
        "action": event.short_type[:100],
        "service": event.service[:50],
        "actor_id": _text(data.get("actor_id"), 255),
        "actor_kind": _text(data.get("actor_kind"), 20) or "unknown",
        "target_type": _text(data.get("target_type"), 50),
        "target_id": _text(data.get("target_id"), 255),
        "client_address": _text(data.get("client_address"), 100),
        "data": data,
    }


class AuditLog:
    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx

    def consumer(self, bus: EventBus) -> EventConsumer:
        return EventConsumer(
            bus,
            self.ctx.db,
            # Each record is stored under its event id and one stored already is left as it is:
            # a redelivery changes nothing without a processed-events row per record.
            None,
            durable=CONSUMER_NAME,
            filter_subject=bus.subjects.all_audit,
            stream=bus.subjects.audit_stream,
            handler=self.store_record,
            batch_handler=self.store_records,
            linger_seconds=AUDIT_LINGER_SECONDS,
        )

    async def follow(self, bus: EventBus) -> None:
        """Store the records of the audit stream until cancelled (after retiring the former consumer)."""
        with suppress(NotFoundError):
            await bus.js.delete_consumer(bus.subjects.audit_stream, FORMER_CONSUMER_NAME)
            log.info("deleted the former audit log consumer %s", FORMER_CONSUMER_NAME)
        await self.consumer(bus).run()

    async def store_record(self, tx: Transaction, event: CloudEvent) -> None:
        await self.store_records(tx, [event])

    async def store_records(self, tx: Transaction, events: Sequence[CloudEvent]) -> None:
        rows = [row for event in events if (row := _row_of(event)) is not None]
        if rows:
            await store.insert(tx.conn, rows)

    async def query(
        self,
        *,
        actor: str | None,
        action: str | None,
        service: str | None,
        target: str | None,
        since: datetime | None,
        until: datetime | None,
        before: str | None,
        limit: int,
    ) -> list[AuditRow]:
        if before is not None:
            try:
                before = str(uuid.UUID(before))
            except ValueError:
                raise InvalidCursor("pass the next_cursor of the previous page") from None
        async with self.ctx.db.read() as conn:
            return await store.list_page(
                conn,
                actor=actor,
                action=action,
                service=service,
                target=target,
                since=since,
                until=until,
                before=before,
                limit=limit,
            )
