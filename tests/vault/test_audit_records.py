"""Group commit of request audit records, on each backend: records of concurrent requests share
transactions, each caller returns only once its own record is stored, and a failed write is every
waiting caller's error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from assay_common.db import Database
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.vault_audit import VaultRequest
from assay_common.events.subjects import Subjects
from assay_vault.app import MIGRATIONS
from assay_vault.domain.audit_records import AuditRecords
from assay_vault.store import tables
from tests.vault.kv_support import database_for


@pytest.fixture
async def db(database_url: str, unique: str) -> AsyncIterator[Database]:
    database = database_for(database_url, f"records_{unique}")
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


def record(n: int) -> VaultRequest:
    return VaultRequest(
        actor_kind="user",
        dialect="vault",
        method="GET",
        path=f"/v1/secret/data/{n}",
        operation="kv.read",
        status=200,
        outcome="ok",
    )


async def stored_paths(db: Database) -> list[str]:
    async with db.read() as conn:
        bodies = (await conn.execute(sa.select(tables.outbox.c.body))).scalars().all()
    return sorted(json.loads(body)["data"]["path"] for body in bodies)


async def test_concurrent_records_share_transactions_and_each_is_stored(db: Database) -> None:
    commits = 0

    def count(*_: object) -> None:
        nonlocal commits
        commits += 1

    sa.event.listen(db.engine.sync_engine, "commit", count)
    records = AuditRecords(db, Outbox("vault", tables.outbox, Subjects()), max_batch=16)

    await asyncio.gather(*(records.write(record(n)) for n in range(40)))

    assert await stored_paths(db) == sorted(f"/v1/secret/data/{n}" for n in range(40))
    # All forty were waiting before the first write began: batches of at most 16.
    assert commits == 3


async def test_each_record_keeps_the_trace_of_its_own_request(db: Database) -> None:
    records = AuditRecords(db, Outbox("vault", tables.outbox, Subjects()))

    async def write_in_trace(n: int) -> None:
        context = SpanContext(trace_id=n + 1, span_id=n + 1, is_remote=True, trace_flags=TraceFlags(1))
        with trace.use_span(NonRecordingSpan(context)):
            await records.write(record(n))

    # Written together (the first request's task writes them all), each under its own trace.
    await asyncio.gather(*(write_in_trace(n) for n in range(5)))

    async with db.read() as conn:
        stored = (await conn.execute(sa.select(tables.outbox.c.body, tables.outbox.c.traceparent))).all()
    assert len(stored) == 5
    for body, traceparent in stored:
        n = int(json.loads(body)["data"]["path"].rpartition("/")[2])
        assert traceparent == f"00-{n + 1:032x}-{n + 1:016x}-01"
        assert json.loads(body)["traceparent"] == traceparent


async def test_a_failed_write_is_the_error_of_every_record_in_it(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(sa.text("DROP TABLE outbox"))
    records = AuditRecords(db, Outbox("vault", tables.outbox, Subjects()))

    outcomes = await asyncio.gather(*(records.write(record(n)) for n in range(5)), return_exceptions=True)

    assert all(isinstance(outcome, sa.exc.DBAPIError) for outcome in outcomes)
