"""The database layer on SQLite and Postgres: migrations, transactions, ids and timestamps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from assay_common.db import Database, UtcDateTime, insert_ignoring_conflict, uuid7
from assay_workflow.store.tables import namespaces, processed_events
from tests.common.conftest import WORKFLOW_MIGRATIONS, database_for

stamps = sa.Table(
    "stamps",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
)


async def test_migrations_are_idempotent(db: Database) -> None:
    await db.migrate(WORKFLOW_MIGRATIONS)
    assert await db.is_at_head(WORKFLOW_MIGRATIONS)


async def test_replicas_migrating_at_once_both_succeed(database_url: str, unique: str) -> None:
    first, second = database_for(database_url, unique), database_for(database_url, unique)
    try:
        await asyncio.gather(first.migrate(WORKFLOW_MIGRATIONS), second.migrate(WORKFLOW_MIGRATIONS))
        assert await first.is_at_head(WORKFLOW_MIGRATIONS)
        async with first.read() as conn:
            main = await conn.execute(sa.text("SELECT count(*) FROM namespaces WHERE name = 'main'"))
            assert main.scalar_one() == 1
    finally:
        await first.dispose()
        await second.dispose()


async def test_fresh_database_is_not_at_head(database_url: str, unique: str) -> None:
    database = database_for(database_url, unique)
    try:
        if database.schema:
            async with database.transaction() as tx:
                await tx.execute(sa.text(f'CREATE SCHEMA "{database.schema}"'))
        assert not await database.is_at_head(WORKFLOW_MIGRATIONS)
    finally:
        await database.dispose()


async def test_rolled_back_transaction_changes_nothing_and_skips_after_commit(db: Database) -> None:
    called: list[str] = []
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute(
                sa.text(
                    "INSERT INTO namespaces (name, description, created_at) VALUES ('gone', '', '2026-01-01')"
                )
            )
            tx.after_commit(lambda: called.append("commit"))
            raise RuntimeError("abort")
    async with db.read() as conn:
        count = await conn.execute(sa.text("SELECT count(*) FROM namespaces WHERE name = 'gone'"))
        assert count.scalar_one() == 0
    assert called == []


async def test_after_commit_runs_once_after_commit(db: Database) -> None:
    called: list[str] = []

    def note() -> None:
        called.append("commit")

    async with db.transaction() as tx:
        tx.after_commit(note)
        tx.after_commit(note)
        assert called == []
    assert called == ["commit"]


async def test_timestamps_come_back_aware_in_utc(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.conn.run_sync(lambda c: stamps.create(c))
        local = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
        await tx.execute(stamps.insert().values(id=1, at=local))
    async with db.read() as conn:
        stored = (await conn.execute(sa.select(stamps.c.at))).scalar_one()
    assert stored == local and stored.tzinfo == UTC


async def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive"):
        async with db.transaction() as tx:
            await tx.conn.run_sync(lambda c: stamps.create(c))
            await tx.execute(stamps.insert().values(id=1, at=datetime(2026, 1, 1)))


async def test_insert_ignoring_conflict_reports_whether_it_inserted(db: Database) -> None:
    row = {"consumer": "c", "event_id": "e", "processed_at": datetime.now(UTC)}
    async with db.transaction() as tx:
        first = await tx.execute(insert_ignoring_conflict(db.backend, processed_events), row)
        second = await tx.execute(insert_ignoring_conflict(db.backend, processed_events), row)
    assert (first.rowcount, second.rowcount) == (1, 0)


async def test_concurrent_writers_all_commit(db: Database) -> None:
    async def create(i: int) -> None:
        async with db.transaction() as tx:
            await tx.execute(sa.text("SELECT count(*) FROM namespaces"))
            await tx.execute(namespaces.insert().values(name=f"ns{i}", created_at=datetime.now(UTC)))

    await asyncio.gather(*(create(i) for i in range(20)))
    async with db.read() as conn:
        count = await conn.execute(sa.text("SELECT count(*) FROM namespaces WHERE name LIKE 'ns%'"))
        assert count.scalar_one() == 20


async def test_a_read_left_unfinished_does_not_hide_later_commits_from_readers(db: Database) -> None:
    # On SQLite every reader of the process shares one connection in autocommit: a SELECT whose
    # rows were not all taken would keep its snapshot open for the statements after it.
    async with db.transaction() as tx:
        for name in ("first", "second"):
            await tx.execute(namespaces.insert().values(name=name, created_at=datetime.now(UTC)))
    async with db.read() as conn:
        unfinished = await conn.execute(sa.select(namespaces.c.name).order_by(namespaces.c.name))
        assert unfinished.fetchone() is not None
    async with db.transaction() as tx:
        await tx.execute(namespaces.insert().values(name="third", created_at=datetime.now(UTC)))
    async with db.read() as conn:
        seen = await conn.execute(sa.select(namespaces.c.name).where(namespaces.c.name == "third"))
        assert seen.scalars().all() == ["third"]
    assert unfinished.fetchone() is not None  # its rows were taken with it


async def test_replicas_in_one_process_write_in_turn_and_the_loop_runs_meanwhile(
    database_url: str, unique: str
) -> None:
    # On SQLite statements run on the event loop: a writer that waited for the file's lock inside
    # SQLite would stop the loop, and with it the writer holding the lock (until busy_timeout).
    first = database_for(database_url, unique)
    await first.migrate(WORKFLOW_MIGRATIONS)
    second = Database(first.url, schema=first.schema)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with first.transaction() as tx:
            await tx.execute(namespaces.insert().values(name="held", created_at=datetime.now(UTC)))
            holding.set()
            await release.wait()

    async def write() -> None:
        async with second.transaction() as tx:
            await tx.execute(namespaces.insert().values(name="beside", created_at=datetime.now(UTC)))

    try:
        holder = asyncio.create_task(hold())
        await holding.wait()
        writer = asyncio.create_task(write())
        for _ in range(50):  # the writer starts and waits for the holder (SQLite) or works beside it
            await asyncio.sleep(0)
        if first.backend == "sqlite":
            assert not writer.done()
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, writer), timeout=10)
        async with second.read() as conn:
            written = sa.select(namespaces.c.name).where(namespaces.c.name.in_(["held", "beside"]))
            assert sorted((await conn.execute(written)).scalars()) == ["beside", "held"]
    finally:
        await second.dispose()
        await first.dispose()


def test_uuid7_ids_sort_by_creation_time() -> None:
    ids = [uuid7() for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000 and ids[0].version == 7
