"""Writing request audit records through the outbox with group commit.

Every request the vault answers waits for its audit record to be written. One transaction per
record would make every read a write transaction of its own (on SQLite, one at a time); instead
the records of requests answered while a write is in progress wait for it and go together in the
next one. An idle vault writes a record at once; a busy one writes many per transaction. Each
caller learns whether its own record was written: every record of a transaction that failed gets
its error. A record keeps the trace of the request it records, whichever request's task writes it.
"""

from __future__ import annotations

import asyncio

from assay_common.db import Database
from assay_common.events.envelope import EventData
from assay_common.events.outbox import Outbox, current_traceparent

#: The most records written in one transaction.
MAX_BATCH = 256


class AuditRecords:
    def __init__(self, db: Database, outbox: Outbox, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.outbox = outbox
        self.max_batch = max_batch
        #: Each record with its request's traceparent and the future its request awaits.
        self._waiting: list[tuple[EventData, str | None, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def write(self, record: EventData) -> None:
        """Return once `record` is written (with others), or raise why it was not."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((record, current_traceparent(), written))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_waiting(), name="audit-records")
        await written

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
                try:
                    async with self.db.transaction() as tx:
                        await self.outbox.add_all(
                            tx, [(record, traceparent) for record, traceparent, _ in batch], audit=True
                        )
                except Exception as exc:  # each waiting request answers for its own record
                    for _, _, written in batch:
                        if not written.done():
                            written.set_exception(exc)
                else:
                    for _, _, written in batch:
                        if not written.done():
                            written.set_result(None)
        finally:
            self._writing = None
