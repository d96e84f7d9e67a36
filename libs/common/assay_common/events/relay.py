"""The outbox relay: publishes committed outbox rows to JetStream, oldest first.

A row is deleted only after JetStream acknowledged it. A crash between the two republishes the
row after restart; JetStream drops the copy because the `Nats-Msg-Id` (the event id) repeats
within the stream's duplicate window. Woken right after each commit; sweeps as a fallback.
With several replicas on Postgres, `FOR UPDATE SKIP LOCKED` gives each row to one relay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import sqlalchemy as sa
from nats.errors import Error as NatsError
from nats.js.api import PubAck
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.cancellation import raise_if_cancelled
from assay_common.db import Database
from assay_common.events.bus import EventBus
from assay_common.events.outbox import Outbox
from assay_common.failpoints import crash_here

log = logging.getLogger("assay.outbox")

#: How long JetStream has to acknowledge a published batch (nats-py's own default for one publish).
ACK_TIMEOUT_SECONDS = 5.0

PUBLISHED = Counter("assay_outbox_published_total", "Outbox events published to JetStream", ["service"])
DUPLICATES = Counter(
    "assay_outbox_duplicates_total", "Outbox events JetStream already had (after a crash)", ["service"]
)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        outbox: Outbox,
        *,
        sweep_seconds: float = 1.0,
        batch_size: int = 200,
    ) -> None:
        self.db = db
        self.bus = bus
        self.table = outbox.table
        self.service = outbox.service
        self.sweep_seconds = sweep_seconds
        self.batch_size = batch_size
        self._wakeup = asyncio.Event()
        outbox.on_commit = self.wake
        table = self.table
        self._oldest = (
            sa.select(table.c.id, table.c.subject, table.c.body, table.c.traceparent)
            .order_by(table.c.id)
            .limit(batch_size)
        )
        oldest = (
            sa.select(table.c.id)
            .order_by(table.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        self._take = (
            table.delete()
            .where(table.c.id.in_(oldest))
            .returning(table.c.id, table.c.subject, table.c.body, table.c.traceparent)
        )

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Publish until cancelled."""
        while True:
            raise_if_cancelled()
            try:
                while await self.drain_once() == self.batch_size:
                    raise_if_cancelled()
            except (NatsError, OSError, sa.exc.DBAPIError, TimeoutError) as exc:
                log.warning("outbox relay could not publish yet: %s", type(exc).__name__)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.sweep_seconds)
            self._wakeup.clear()

    async def drain_once(self) -> int:
        """Publish one batch; returns how many rows it published."""
        if self.db.backend == "postgresql":
            # Taken and deleted in one statement; the delete commits only once all are published.
            async with self.db.transaction() as tx:
                taken = sorted((await tx.conn.execute(self._take)).all(), key=lambda row: str(row.id))
                await self._publish(taken)
            return len(taken)
        # SQLite: one writer at a time, so do not hold the write lock while publishing.
        async with self.db.read() as conn:
            rows = (await conn.execute(self._oldest)).all()
        await self._publish(rows)
        if rows:
            async with self.db.transaction() as tx:
                await self._delete(tx.conn, [row.id for row in rows])
        return len(rows)

    async def _publish(self, rows: Sequence[sa.Row[Any, Any, Any, Any]]) -> None:
        """Publish `rows` in order and return once JetStream acknowledged every one. The batch is
        sent at once and its acknowledgements awaited together: one write to the socket for the
        batch, not one round trip per row. A row JetStream refuses (or does not acknowledge in
        time) fails the batch; its rows stay in the outbox and go again, deduplicated by id."""
        if not rows:
            return
        acks: list[asyncio.Future[PubAck]] = []
        try:
            for row in rows:
                headers = {"Nats-Msg-Id": row.id}
                if row.traceparent:
                    headers["traceparent"] = row.traceparent
                acks.append(await self.bus.js.publish_async(row.subject, row.body, headers=headers))
            answers = await asyncio.wait_for(asyncio.gather(*acks), timeout=ACK_TIMEOUT_SECONDS)
        finally:
            for ack in acks:
                ack.cancel()  # those not answered yet: a failed batch leaves none pending
        duplicates = sum(1 for answer in answers if answer.duplicate)
        PUBLISHED.labels(self.service).inc(len(answers) - duplicates)
        if duplicates:
            DUPLICATES.labels(self.service).inc(duplicates)
        crash_here("outbox.after_publish")

    async def _delete(self, conn: AsyncConnection, ids: list[str]) -> None:
        if ids:
            await conn.execute(self.table.delete().where(self.table.c.id.in_(ids)))
