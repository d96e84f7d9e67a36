"""The timekeeper: one loop per replica that makes time-driven things happen when they are due.

It fires timers, enforces activity timeouts, ends expired workflow-task leases and run timeouts,
and removes silent workers. It sleeps until the earliest due time and is woken (in this process
and, over NATS, on every replica) whenever a new deadline appears, so a timer fires within tens
of milliseconds. Replicas share the work safely: each item is re-checked under its run's lock,
and batch selections skip rows another replica holds (SKIP LOCKED on Postgres).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from assay_common.db import utcnow
from assay_common.events.schemas import workflow as events
from assay_workflow.domain.activity_tasks import retry_or_finish
from assay_workflow.domain.engine import NEVER, TIMEKEEPER_TOPIC, Engine, Work, workflow_task_topic
from assay_workflow.domain.workers import remove_worker
from assay_workflow.domain.workflows import request_cancel, terminate_run, time_out_run
from assay_workflow.store import activities as activity_store
from assay_workflow.store import runs as run_store
from assay_workflow.store import workers as worker_store
from assay_workflow.store.rows import ActivityRow, RunRow, TimerRow

log = logging.getLogger("assay.workflow.timekeeper")
BATCH = 100
#: Leases (seconds long) and worker silence (tens of seconds) need no sharper eye than this;
#: precise deadlines (timers, activity and run timeouts) wake the loop themselves.
LONGEST_SLEEP_SECONDS = 1.0


class Timekeeper:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def run(self) -> None:
        while True:
            self.engine.timekeeper_bell.clear()
            # Looking now: any new deadline rings, until the next sleep is planned.
            self.engine.timekeeper_plan = NEVER
            try:
                await self.catch_up()
                due = await self.next_due()
            except sa.exc.DBAPIError:
                # A lost connection or a deadlock victim: nothing was half-done (each item is
                # one transaction), so look again shortly instead of taking the service down.
                log.warning("timekeeper could not reach the database; retrying", exc_info=True)
                due = None
            sleep = LONGEST_SLEEP_SECONDS
            if due is not None:
                sleep = min(sleep, max((due - utcnow()).total_seconds(), 0))
            if sleep > 0:
                self.engine.timekeeper_plan = utcnow() + timedelta(seconds=sleep)
                await self.sleep(sleep)

    async def sleep(self, seconds: float) -> None:
        """Sleep until `seconds` pass or someone rings the bell, here or on another replica."""
        local = asyncio.create_task(self.engine.timekeeper_bell.wait())
        remote = asyncio.create_task(self.engine.wakeups.wait(TIMEKEEPER_TOPIC, seconds))
        try:
            await asyncio.wait({local, remote}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (local, remote):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def catch_up(self) -> None:
        """Handle everything due now."""
        now = utcnow()
        async with self.engine.db.read() as conn:
            timers = await activity_store.due_timers(conn, now, BATCH)
            timed_out = await activity_store.timed_out(conn, now, BATCH)
        for timer in timers:
            async with self.engine.work() as work:
                await fire_timer(work, timer)
        for activity in timed_out:
            async with self.engine.work() as work:
                await time_out_activity(work, activity)
        async with self.engine.work() as work:
            for run in await run_store.expired_leases(work.conn, work.now, BATCH):
                scope = await work.scope(run)
                await scope.update(**run_store.released_lease(work.now))
                work.topics.add(workflow_task_topic(run.namespace, run.task_queue))
        async with self.engine.work() as work:
            for run in await run_store.past_deadline(work.conn, work.now, BATCH):
                await time_out_run(await work.scope(run))
        async with self.engine.db.read() as conn:
            orphans = await run_store.orphans(conn, BATCH)
        for orphan in orphans:
            async with self.engine.work() as work:
                await apply_parent_close_policy(work, orphan)
        cutoff = now - timedelta(seconds=self.engine.settings.worker_timeout_seconds)
        async with self.engine.work() as work:
            silent = await worker_store.silent_since(work.conn, cutoff, BATCH)
        for worker_id in silent:
            async with self.engine.work() as work:
                if await remove_worker(work, worker_id):
                    log.info("removed silent worker %s and released its tasks", worker_id)

    async def next_due(self) -> datetime | None:
        async with self.engine.db.read() as conn:
            candidates = [
                *await run_store.earliest_deadlines(conn),
                *await activity_store.earliest_deadlines(conn),
            ]
            heartbeat = await worker_store.oldest_heartbeat(conn)
        if heartbeat is not None:
            candidates.append(heartbeat + timedelta(seconds=self.engine.settings.worker_timeout_seconds))
        return min((c for c in candidates if c is not None), default=None)


async def fire_timer(work: Work, timer: TimerRow) -> None:
    scope = await work.lock_run(timer.run_id)
    current = await activity_store.get_timer(work.conn, timer.run_id, timer.timer_seq)
    if scope is None or current is None or current.status != "PENDING" or not scope.run.is_open:
        return
    await activity_store.set_timer_status(work.conn, timer.run_id, timer.timer_seq, "FIRED")
    await scope.append("TimerFired", {"timer_seq": timer.timer_seq})
    await scope.emit(
        events.TimerFired(**scope.ids(), timer_seq=timer.timer_seq, fire_at=timer.fire_at, fired_at=work.now)
    )
    await scope.make_task()


async def time_out_activity(work: Work, activity: ActivityRow) -> None:
    scope = await work.lock_run(activity.run_id)
    current = await activity_store.get(work.conn, activity.run_id, activity.activity_seq)
    if (
        scope is None
        or current is None
        or current.timeout_at is None
        or current.timeout_at > work.now
        or current.status not in activity_store.PENDING_STATUSES
    ):
        return
    if current.status == activity_store.SCHEDULED:
        kind = "schedule_to_start"
    elif (
        current.start_to_close_timeout is not None
        and current.started_at is not None
        and current.started_at + timedelta(seconds=current.start_to_close_timeout) <= work.now
    ):
        kind = "start_to_close"
    else:
        kind = "heartbeat"
    await retry_or_finish(scope, current, reason=f"{kind} timeout", final=False, timeout=kind, error=None)


async def apply_parent_close_policy(work: Work, child: RunRow) -> None:
    """The child's parent has closed: terminate the child, or ask it to cancel."""
    scope = await work.lock_run(child.run_id)
    if scope is None or not scope.run.is_open or scope.run.parent_run_id is None:
        return
    parent = await run_store.get(work.conn, scope.run.parent_run_id)
    if parent is None or parent.is_open:
        return
    reason = f"parent workflow {parent.workflow_id!r} closed ({parent.status})"
    if scope.run.parent_close_policy == "terminate":
        await terminate_run(scope, reason)
    elif scope.run.parent_close_policy == "request_cancel":
        await request_cancel(scope, reason)
