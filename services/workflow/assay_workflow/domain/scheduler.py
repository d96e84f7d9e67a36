"""The scheduler: fires the slots of every schedule, on one replica at a time.

Every replica campaigns for the `scheduler` lease (`assay_common.leadership`); the one that holds
it fires due slots, each schedule in a transaction that first checks the lease's fencing token
(so a replica that lost the lease without knowing it cannot write a fire), and records the token
on each fire. When the leader dies another replica takes over once the lease lapses (its TTL,
`scheduler_lease_seconds`), and fires the slots that came meanwhile, within each schedule's
catch-up window. A replica that stops gracefully resigns, so another takes over at once.

It sleeps until the earliest due slot (at most a second, so that fires waiting for a run to
close start promptly), and wakes early when a schedule changes on any replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import sqlalchemy as sa

from assay_common.cancellation import raise_if_cancelled
from assay_common.leadership import Leadership, NotLeader
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.schedules import SCHEDULER_TOPIC, ScheduleNotFound, lock_schedule
from assay_workflow.store import schedules as store

log = logging.getLogger("assay.workflow.scheduler")
#: The lease every replica's scheduler campaigns for.
LEASE_NAME = "scheduler"
#: Schedules handled per turn (each in a transaction of its own).
BATCH = 100
LONGEST_SLEEP_SECONDS = 1.0


class Scheduler:
    def __init__(self, engine: Engine, leadership: Leadership) -> None:
        self.engine = engine
        self.leadership = leadership

    async def run(self) -> None:
        """Campaign for the lease and, while holding it, fire due slots; until cancelled (then
        resign, so another replica takes over at once)."""
        campaign = asyncio.create_task(self.leadership.campaign())
        try:
            while True:
                token = await self.leadership.wait_for_leadership()
                log.info("this replica fires schedules (lease token %d)", token)
                try:
                    await self.lead(token)
                except NotLeader:
                    log.info("this replica no longer fires schedules (lease token %d)", token)
        finally:
            campaign.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await campaign

    async def lead(self, token: int) -> None:
        while self.leadership.token == token:
            raise_if_cancelled()
            try:
                await self.turn(token)
                sleep = await self.sleep_seconds()
            except sa.exc.DBAPIError:
                log.warning("scheduler could not reach the database; retrying", exc_info=True)
                sleep = LONGEST_SLEEP_SECONDS
            if sleep > 0:
                lost = asyncio.create_task(self.leadership.wait_until_lost(token))
                woken = asyncio.create_task(self.engine.wakeups.wait(SCHEDULER_TOPIC, sleep))
                try:
                    await asyncio.wait({lost, woken}, timeout=sleep, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (lost, woken):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task

    async def turn(self, token: int) -> None:
        """Fire what is due now, each schedule in a fenced transaction of its own."""
        async with self.engine.db.read() as conn:
            keys = await store.needing_attention(conn, self.engine.clock(), BATCH)
        for namespace, schedule_id in keys:
            try:
                async with self.engine.work() as work:
                    await self.leadership.fence(work.tx, token)
                    scope = await lock_schedule(work, namespace, schedule_id, token)
                    await scope.fire_due_slots()
            except ScheduleNotFound:
                continue  # deleted since it was listed
            except (NotLeader, sa.exc.DBAPIError):
                raise
            except Exception:
                # One schedule that cannot fire (its transaction rolled back) stops no other.
                log.exception("schedule %r of %r could not fire; it is tried again", schedule_id, namespace)

    async def sleep_seconds(self) -> float:
        async with self.engine.db.read() as conn:
            due = await store.earliest_due(conn)
            if await store.any_buffered(conn):
                return LONGEST_SLEEP_SECONDS
        if due is None:
            return LONGEST_SLEEP_SECONDS
        return min(LONGEST_SLEEP_SECONDS, max((due - self.engine.clock()).total_seconds(), 0.0))
