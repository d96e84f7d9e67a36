"""Leader election with fencing tokens, on real databases: candidates in this process, and
candidate processes that are SIGKILLed while they lead."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from assay.local.platform import ManagedProcess
from assay_common.db import Database
from assay_common.leadership import Leadership, NotLeader, leader_leases_table
from tests.common.conftest import database_for
from tests.common.leadership_candidate import CAMPAIGNING, LEASE, SCHEMA_ENV, URL_ENV, fenced_writes_table
from tests.support import eventually

METADATA = sa.MetaData()
LEASES = leader_leases_table(METADATA)
WRITES = fenced_writes_table(METADATA)

CANDIDATE_SCRIPT = Path(__file__).with_name("leadership_candidate.py")
#: Short, so that takeovers after a crash take seconds; well above a renewal's round trip.
SHORT_TTL = 1.0
#: Long enough that a takeover within a few seconds can only follow a resignation.
LONG_TTL = 60.0


@pytest.fixture
async def lease_db(database_url: str, unique: str) -> AsyncIterator[Database]:
    """A fresh database of this test's own, with the lease table and the candidates' writes."""
    db = database_for(database_url, unique)
    async with db.engine.begin() as conn:
        if db.schema:
            await conn.execute(sa.text(f'CREATE SCHEMA "{db.schema}"'))
        await conn.run_sync(METADATA.create_all)
    yield db
    await db.dispose()


def replica_of(db: Database) -> Database:
    """The same store as another replica reaches it: pools of its own."""
    return Database(db.url, schema=db.schema)


@dataclass
class Candidate:
    leadership: Leadership
    campaign: asyncio.Task[None]

    async def stop(self) -> None:
        """Cancel the campaign, as a graceful shutdown does: it resigns."""
        self.campaign.cancel()
        with suppress(asyncio.CancelledError):
            await self.campaign


@asynccontextmanager
async def campaigning(
    db: Database, holders: list[str], *, ttl_seconds: float, renew_seconds: float | None = None
) -> AsyncIterator[list[Candidate]]:
    """A campaigning candidate for each holder, each on a database replica of its own."""
    started: list[Candidate] = []
    try:
        for holder in holders:
            leadership = Leadership(
                replica_of(db), LEASES, LEASE, holder, ttl_seconds=ttl_seconds, renew_seconds=renew_seconds
            )
            started.append(Candidate(leadership, asyncio.create_task(leadership.campaign())))
        yield started
    finally:
        for candidate in started:
            await candidate.stop()
            await candidate.leadership.db.dispose()


def leaders(candidates: list[Candidate]) -> list[Candidate]:
    return [candidate for candidate in candidates if candidate.leadership.token is not None]


async def one_leads(candidates: list[Candidate]) -> bool:
    return len(leaders(candidates)) == 1


async def leads_with(leadership: Leadership, token: int | None) -> bool:
    return leadership.token == token


async def ended(task: asyncio.Task[None]) -> bool:
    return task.done()


async def fence(leadership: Leadership, token: int) -> None:
    """A write transaction of `leadership`'s singleton work with `token`, fenced and empty."""
    async with leadership.db.transaction() as tx:
        await leadership.fence(tx, token)


async def test_one_of_three_candidates_leads_and_the_fence_admits_only_its_token(lease_db: Database) -> None:
    async with campaigning(lease_db, ["a", "b", "c"], ttl_seconds=LONG_TTL, renew_seconds=0.1) as candidates:
        await eventually(lambda: one_leads(candidates), what="one leader")
        [leader] = leaders(candidates)
        token = leader.leadership.token
        assert token == 1, "the first holder of a new lease"
        async with lease_db.read() as conn:
            lease = (await conn.execute(sa.select(LEASES))).one()
        assert (lease.name, lease.holder, lease.token) == (LEASE, leader.leadership.holder, token)

        await fence(leader.leadership, token)
        with pytest.raises(NotLeader):
            await fence(leader.leadership, token + 1)
        for follower in candidates:
            if follower is not leader:
                assert follower.leadership.token is None
                with pytest.raises(NotLeader):
                    await fence(follower.leadership, token)
        assert leaders(candidates) == [leader]


async def test_a_resigning_leader_is_replaced_at_once_and_its_token_is_fenced_off(
    lease_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="assay.leadership")
    async with campaigning(lease_db, ["a", "b", "c"], ttl_seconds=LONG_TTL, renew_seconds=0.1) as candidates:
        await eventually(lambda: one_leads(candidates), what="one leader")
        [leader] = leaders(candidates)
        old_token = leader.leadership.token
        assert old_token is not None
        others = [candidate for candidate in candidates if candidate is not leader]

        await leader.stop()
        # Far within the TTL: the lease was released, not left to expire.
        await eventually(lambda: one_leads(others), within=5, what="a successor")
        [successor] = leaders(others)
        new_token = successor.leadership.token
        assert leader.leadership.token is None
        assert new_token == old_token + 1

        await fence(successor.leadership, new_token)
        for leadership in (leader.leadership, successor.leadership):
            with pytest.raises(NotLeader):
                await fence(leadership, old_token)
    logged = [record.getMessage() for record in caplog.records]
    assert f"{leader.leadership.holder} stopped leading {LEASE} (token {old_token}): it resigned" in logged
    assert f"{successor.leadership.holder} leads {LEASE} with token {new_token}" in logged


async def test_a_holder_that_stops_renewing_is_replaced_after_the_ttl(lease_db: Database) -> None:
    # One turn of a campaign and no more, as a replica that crashed right after taking the lease.
    crashed = Leadership(replica_of(lease_db), LEASES, LEASE, "crashed", ttl_seconds=SHORT_TTL)
    try:
        token = await crashed.acquire_or_renew()
        assert token == 1
        async with campaigning(lease_db, ["a", "b"], ttl_seconds=SHORT_TTL) as candidates:
            await eventually(lambda: one_leads(candidates), what="a successor after the TTL")
            [successor] = leaders(candidates)
            assert successor.leadership.token == token + 1
            await eventually(lambda: leads_with(crashed, None), what="the crashed holder's own view lapsed")
            with pytest.raises(NotLeader):
                await fence(crashed, token)
            await fence(successor.leadership, token + 1)
    finally:
        await crashed.db.dispose()


async def test_a_leader_whose_renewal_is_held_up_stops_leading_and_later_resumes_with_its_token(
    lease_db: Database,
) -> None:
    async with campaigning(lease_db, ["a"], ttl_seconds=SHORT_TTL) as [candidate]:
        leadership = candidate.leadership
        token = await asyncio.wait_for(leadership.wait_for_leadership(), 10)
        lost = asyncio.create_task(leadership.wait_until_lost(token))
        blocker = replica_of(lease_db)
        try:
            async with blocker.transaction() as tx:
                # A long fenced transaction: it holds the lease row (Postgres) or the write lock
                # (SQLite), so the leader's renewals wait behind it.
                await leadership.fence(tx, token)
                await eventually(lambda: ended(lost), what="leadership given up while renewals wait")
                assert leadership.token is None
            # No one else took the lease: renewing it keeps the token.
            await eventually(lambda: leads_with(leadership, token), what="leading again")
        finally:
            lost.cancel()
            await blocker.dispose()


class CandidateProcesses:
    """`leadership_candidate` processes on one database; each start is a new holder."""

    def __init__(self, db: Database, log_dir: Path) -> None:
        self.env = {URL_ENV: db.url, "PYTHONUNBUFFERED": "1"}
        if db.schema:
            self.env[SCHEMA_ENV] = db.schema
        self.log_dir = log_dir
        self.running: dict[str, ManagedProcess] = {}
        self.started = 0

    async def start(self) -> None:
        holder = f"process-{self.started}"
        self.started += 1
        argv = [sys.executable, str(CANDIDATE_SCRIPT), holder, str(SHORT_TTL)]
        process = ManagedProcess(holder, argv, self.env, self.log_dir / f"{holder}.log", ready_url=None)
        self.running[holder] = process
        await process.spawn()

    async def all_campaigning(self) -> bool:
        return all(
            process.log_path.exists() and f"{holder} {CAMPAIGNING}" in process.log_path.read_text()
            for holder, process in self.running.items()
        )

    async def kill(self, holder: str) -> None:
        await self.running.pop(holder).kill()

    async def kill_all(self) -> None:
        for holder in list(self.running):
            await self.kill(holder)


@dataclass(frozen=True)
class Write:
    token: int
    holder: str


async def writes(db: Database) -> list[Write]:
    """Every fenced write, in the order they were made."""
    async with db.read() as conn:
        rows = await conn.execute(sa.select(WRITES.c.token, WRITES.c.holder).order_by(WRITES.c.id))
        return [Write(row.token, row.holder) for row in rows]


async def written_after(db: Database, token: int) -> bool:
    """Has a leader with a newer token than `token` written?"""
    async with db.read() as conn:
        latest = await conn.scalar(sa.select(sa.func.max(WRITES.c.token)))
    return latest is not None and latest > token


async def test_killed_leaders_are_replaced_within_a_few_ttls_and_no_two_leaders_ever_write_at_once(
    lease_db: Database, tmp_path: Path
) -> None:
    processes = CandidateProcesses(lease_db, tmp_path)
    try:
        for _ in range(3):
            await processes.start()
        await eventually(lambda: written_after(lease_db, 0), within=60, what="a first leader writing")
        for kill in range(3):
            if kill == 2:
                # Restart the two killed ones (new processes, so new holders): only one is left.
                for _ in range(2):
                    await processes.start()
            await eventually(processes.all_campaigning, within=60, what="every candidate campaigning")
            leader = (await writes(lease_db))[-1]
            await processes.kill(leader.holder)
            await eventually(
                partial(written_after, lease_db, leader.token),
                within=5 * SHORT_TTL,
                what=f"a new leader writing after {leader.holder} (token {leader.token}) was killed",
            )
        stopped = {
            holder: process.log_tail()
            for holder, process in processes.running.items()
            if not process.is_running
        }
        assert stopped == {}, "only the killed candidates may have stopped"
    finally:
        await processes.kill_all()

    made = await writes(lease_db)
    tokens = [write.token for write in made]
    assert tokens == sorted(tokens), "a write with an older token came after one with a newer token"
    holders_of: dict[int, set[str]] = defaultdict(set)
    for write in made:
        holders_of[write.token].add(write.holder)
    assert all(len(holders) == 1 for holders in holders_of.values()), holders_of
    assert len(holders_of) >= 4, "the first leader and one after each of the three kills"
