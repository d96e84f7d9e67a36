"""Schedules: start a workflow at the slots of a spec (a cron expression, a macro or an interval,
see `schedule_spec`), with an overlap policy for slots that come while an earlier run is open.

Every fire is recorded in `schedule_fires`, one row per slot (so no slot is acted on twice, by
any replica), and published as `schedule_fired`. Slots fire from the scheduler, which runs on
the one replica that holds the scheduler lease (`scheduler.py`); triggers and backfills fire at
once, from the replica that serves the request. Each works on the schedule's row locked.

Overlap policies, for a fire that comes while a run this schedule started is open:
- `skip`: the fire is recorded as skipped;
- `buffer_one`: it waits, and starts when the open run closes; while one waits, later fires are
  skipped;
- `buffer_all`: every such fire waits; they start one at a time, in slot order, each once the
  run before it closed;
- `cancel_other`: the open run is asked to cancel, and the fire waits (as with `buffer_one`)
  until it has closed;
- `terminate_other`: the open run is terminated and the fire starts at once;
- `allow_all`: the fire starts at once, whatever runs.

A slot that comes more than the schedule's catch-up window late (the service was down, or no
replica led) is not fired: the run of such slots is recorded once, as `missed`, with its count.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from assay_common.db import uuid7
from assay_common.errors import Conflict, Invalid, NotFound
from assay_common.events.schemas import workflow as events
from assay_workflow.domain.engine import Engine, Work
from assay_workflow.domain.errors import WorkflowAlreadyRunning
from assay_workflow.domain.namespaces import NamespaceNotFound
from assay_workflow.domain.schedule_spec import InvalidScheduleSpec, ScheduleSpec, jitter_from_seconds
from assay_workflow.domain.workflows import (
    check_search_attributes,
    check_task_queue,
    open_run,
    request_cancel,
    start_run,
    terminate_run,
)
from assay_workflow.store import namespaces as namespace_store
from assay_workflow.store import schedules as store
from assay_workflow.store.rows import Json
from assay_workflow.store.schedules import BUFFERED, MISSED, SKIPPED, STARTED, FireRow, ScheduleRow

OverlapPolicy = Literal["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"]
OVERLAP_POLICIES: tuple[str, ...] = get_args(OverlapPolicy)
Trigger = Literal["scheduled", "trigger", "backfill"]

#: How late a slot may still fire, unless the schedule says otherwise.
DEFAULT_CATCHUP_WINDOW_SECONDS = 3600.0
#: The most slots one backfill may name.
MAX_BACKFILL_SLOTS = 1000
#: The slots of one schedule the scheduler fires in one transaction (more follow next turn).
SLOTS_PER_TURN = 100
#: Missed slots counted one by one before the count is cut short (it then says "at least").
MAX_MISSED_COUNTED = 10_000
#: The settled fires kept per schedule (the newest); buffered ones are kept until they start.
KEPT_FIRES = 1000
#: The wake-up topic of the scheduler: rung when a schedule's next slot may have moved earlier.
SCHEDULER_TOPIC = "scheduler"
#: Search attributes every run a schedule starts carries.
SCHEDULE_ID_ATTRIBUTE = "AssayScheduleId"
SCHEDULED_TIME_ATTRIBUTE = "AssayScheduledTime"

#: The fields a PATCH may change.
TIMING_FIELDS = frozenset({"expression", "timezone", "jitter_seconds", "start_at", "end_at"})
EDITABLE_FIELDS = TIMING_FIELDS | {
    "workflow_type",
    "task_queue",
    "input",
    "search_attributes",
    "run_timeout_seconds",
    "overlap_policy",
    "catchup_window_seconds",
    "note",
}


class ScheduleNotFound(NotFound):
    code = "schedule_not_found"
    title = "No such schedule"


class ScheduleExists(Conflict):
    code = "schedule_exists"
    title = "A schedule of that id exists already in the namespace"


class InvalidSchedule(Invalid):
    code = "invalid_schedule"
    title = "The schedule cannot be used"


@dataclass(frozen=True)
class NewSchedule:
    namespace: str
    schedule_id: str
    workflow_type: str
    task_queue: str
    input: Json
    search_attributes: dict[str, Json]
    run_timeout_seconds: float | None
    expression: str
    timezone: str
    jitter_seconds: float
    start_at: datetime | None
    end_at: datetime | None
    overlap_policy: OverlapPolicy
    catchup_window_seconds: float
    paused: bool
    note: str


@dataclass(frozen=True)
class Description:
    schedule: ScheduleRow
    recent_fires: list[FireRow]
    upcoming: list[datetime]


def spec_of(values: ScheduleRow | NewSchedule, *, now: datetime | None = None) -> ScheduleSpec:
    """The schedule's timing; with `now`, checked as for a write (InvalidSchedule with the reason),
    which also refuses a spec that no longer fires after now. Without it, a stored schedule
    whose window or years have passed still loads (it has no next slot)."""
    try:
        if now is None:
            jitter = jitter_from_seconds(values.jitter_seconds)
            return ScheduleSpec(values.expression, values.timezone, jitter, values.start_at, values.end_at)
        return ScheduleSpec.parse(
            values.expression,
            values.timezone,
            jitter_seconds=values.jitter_seconds,
            start_at=values.start_at,
            end_at=values.end_at,
            now=now,
        )
    except InvalidScheduleSpec as error:
        raise InvalidSchedule(str(error)) from None


def schedule_key(namespace: str, schedule_id: str) -> str:
    """Names a schedule in its jitter (so each schedule's jitter differs, alike on every replica)."""
    return f"{namespace}/{schedule_id}"


def next_slot(spec: ScheduleSpec, key: str, after: datetime) -> dict[str, datetime | None]:
    """The row values of the first slot after `after`: when it is, and when it is due."""
    nominal = spec.next_after(after)
    due = nominal + spec.jitter_for(key, nominal) if nominal is not None else None
    return {"next_nominal_at": nominal, "next_due_at": due}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


class ScheduleScope:
    """A schedule whose row a unit of work has locked: fires it, starts what waits in its buffer."""

    def __init__(self, work: Work, row: ScheduleRow, fencing_token: int | None) -> None:
        self.work = work
        self.row = row
        self.fencing_token = fencing_token

    async def save(self, **values: Any) -> None:
        values = {"updated_at": self.work.now, **values}
        await store.update(self.work.conn, self.row.namespace, self.row.schedule_id, **values)
        self.row = replace(self.row, **values)

    async def running(self) -> list[str]:
        """The workflows it started that are still open (the row forgets those that closed)."""
        still = await store.still_open(self.work.conn, self.row.namespace, self.row.running)
        if still != self.row.running:
            await self.save(running=still)
        return still

    async def fire(self, trigger: Trigger, nominal: datetime, policy: OverlapPolicy) -> FireRow | None:
        """Act on one slot under `policy`; None when the slot was acted on already."""
        fire = FireRow(
            fire_id=uuid7(),
            namespace=self.row.namespace,
            schedule_id=self.row.schedule_id,
            trigger=trigger,
            nominal_at=nominal,
            fired_at=self.work.now,
            outcome=SKIPPED,
            workflow_id=None,
            run_id=None,
            fencing_token=self.fencing_token,
        )
        if not await store.record_fire(self.work.conn, fire.__dict__):
            return None
        running = await self.running()
        if running and policy == "terminate_other":
            for workflow_id in running:
                scope = await open_run(self.work, self.row.namespace, workflow_id, None)
                await terminate_run(scope, f"schedule {self.row.schedule_id!r} fired (terminate_other)")
            running = []
        if not running or policy == "allow_all":
            fire = await self._start(fire)
        elif policy in ("buffer_one", "cancel_other", "buffer_all"):
            if policy == "cancel_other":
                for workflow_id in running:
                    scope = await open_run(self.work, self.row.namespace, workflow_id, None)
                    await request_cancel(scope, f"schedule {self.row.schedule_id!r} fired (cancel_other)")
            if policy == "buffer_all" or self.row.buffered == 0:
                fire = replace(fire, outcome=BUFFERED)
                await store.update_fire(self.work.conn, fire.fire_id, outcome=BUFFERED)
                await self.save(buffered=self.row.buffered + 1)
        await self._fired(fire)
        await store.forget_old_fires(self.work.conn, self.row.namespace, self.row.schedule_id, KEPT_FIRES)
        return fire

    async def start_buffered(self) -> None:
        """Start the fires that wait, oldest slot first, while none of its runs is open."""
        while self.row.buffered > 0 and not await self.running():
            waiting = await store.oldest_buffered(self.work.conn, self.row.namespace, self.row.schedule_id)
            if waiting is None:  # nothing waits after all: mend the count
                await self.save(buffered=0)
                return
            await self.save(buffered=self.row.buffered - 1)
            await self._fired(await self._start(waiting))

    async def record_missed(self, first: datetime, count: int) -> None:
        """Slots from `first` on, `count` of them, came past the catch-up window: one record."""
        missed = FireRow(
            fire_id=uuid7(),
            namespace=self.row.namespace,
            schedule_id=self.row.schedule_id,
            trigger="scheduled",
            nominal_at=first,
            fired_at=self.work.now,
            outcome=MISSED,
            workflow_id=None,
            run_id=None,
            fencing_token=self.fencing_token,
        )
        if await store.record_fire(self.work.conn, missed.__dict__):
            await self.save(missed=self.row.missed + count)
            await self._fired(missed, slots=count)

    async def _start(self, fire: FireRow) -> FireRow:
        row = self.row
        if fire.trigger == "trigger":
            workflow_id = f"{row.schedule_id}-trigger-{uuid.uuid4().hex[:12]}"
        else:
            workflow_id = f"{row.schedule_id}-{_stamp(fire.nominal_at)}"
        attributes = {
            **row.search_attributes,
            SCHEDULE_ID_ATTRIBUTE: row.schedule_id,
            SCHEDULED_TIME_ATTRIBUTE: fire.nominal_at.isoformat(),
        }
        try:
            scope = await start_run(
                self.work,
                run_id=uuid7(),
                namespace=row.namespace,
                workflow_id=workflow_id,
                workflow_type=row.workflow_type,
                task_queue=row.task_queue,
                input=row.input,
                search_attributes=attributes,
                run_timeout_seconds=row.run_timeout_seconds,
                continued_from_run_id=None,
                parent=None,
            )
        except WorkflowAlreadyRunning:
            # The slot's workflow id is open already (a backfill of a slot that fired): no second run.
            await store.update_fire(self.work.conn, fire.fire_id, outcome=SKIPPED, workflow_id=workflow_id)
            return replace(fire, outcome=SKIPPED, workflow_id=workflow_id)
        started = replace(fire, outcome=STARTED, workflow_id=workflow_id, run_id=scope.run.run_id)
        await store.update_fire(
            self.work.conn, fire.fire_id, outcome=STARTED, workflow_id=workflow_id, run_id=scope.run.run_id
        )
        await self.save(running=[*row.running, workflow_id], last_fired_at=self.work.now)
        return started

    async def _fired(self, fire: FireRow, slots: int = 1) -> None:
        await self.work.engine.outbox.add(
            self.work.tx,
            events.ScheduleFired(
                namespace=fire.namespace,
                schedule_id=fire.schedule_id,
                trigger=fire.trigger,
                nominal_at=fire.nominal_at,
                fired_at=fire.fired_at,
                outcome=fire.outcome,
                workflow_id=fire.workflow_id,
                run_id=str(fire.run_id) if fire.run_id else None,
                slots=slots,
            ),
            namespace=fire.namespace,
            subject=f"schedules/{fire.schedule_id}",
        )

    async def fire_due_slots(self) -> None:
        """The scheduler's part: start what waits, then fire the slots due by now (those past
        the catch-up window are recorded as missed), and move on to the next slot."""
        await self.start_buffered()
        row, now = self.row, self.work.now
        if row.paused or row.next_nominal_at is None or row.next_due_at is None or row.next_due_at > now:
            return
        spec, key = spec_of(row), schedule_key(row.namespace, row.schedule_id)
        nominal: datetime | None = row.next_nominal_at
        window = timedelta(seconds=row.catchup_window_seconds)
        if nominal is not None and now - nominal > window:
            late = [nominal, *spec.fire_times(nominal, now - window, MAX_MISSED_COUNTED)]
            late = [slot for slot in late if now - slot > window]
            await self.record_missed(late[0], len(late))
            # Counting was cut short: go on from the window's start.
            nominal = spec.next_after(late[-1] if len(late) <= MAX_MISSED_COUNTED else now - window)
        fired = 0
        while nominal is not None and fired < SLOTS_PER_TURN:
            if nominal + spec.jitter_for(key, nominal) > now:
                break
            await self.fire("scheduled", nominal, _policy(row))
            nominal = spec.next_after(nominal)
            fired += 1
        await self.save(**next_slot(spec, key, nominal - timedelta(microseconds=1)) if nominal else _NO_SLOT)


_NO_SLOT: dict[str, Any] = {"next_nominal_at": None, "next_due_at": None}


async def lock_schedule(
    work: Work, namespace: str, schedule_id: str, fencing_token: int | None = None
) -> ScheduleScope:
    row = await store.get(work.conn, namespace, schedule_id, for_update=True)
    if row is None:
        raise ScheduleNotFound(f"schedule {schedule_id!r} does not exist in namespace {namespace!r}")
    return ScheduleScope(work, row, fencing_token)


class Schedules:
    """What callers of the API do with schedules."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def create(self, new: NewSchedule) -> ScheduleRow:
        new = replace(new, start_at=_utc(new.start_at), end_at=_utc(new.end_at))
        spec = _checked(new, self.engine.clock())
        async with self.engine.work() as work:
            if await namespace_store.get(work.conn, new.namespace) is None:
                raise NamespaceNotFound(f"namespace {new.namespace!r} does not exist")
            values = {
                **new.__dict__,
                "created_at": work.now,
                "updated_at": work.now,
                "last_fired_at": None,
                "running": [],
                "buffered": 0,
                "missed": 0,
                **next_slot(spec, schedule_key(new.namespace, new.schedule_id), work.now),
            }
            if not await store.insert(work.conn, values):
                raise ScheduleExists(f"schedule {new.schedule_id!r} exists already in {new.namespace!r}")
            row = ScheduleRow(**values)
            await self._emit(
                work,
                row,
                events.ScheduleCreated(
                    namespace=row.namespace,
                    schedule_id=row.schedule_id,
                    workflow_type=row.workflow_type,
                    expression=row.expression,
                    timezone=row.timezone,
                    overlap_policy=row.overlap_policy,
                    next_nominal_at=row.next_nominal_at,
                ),
            )
        return row

    async def get(self, namespace: str, schedule_id: str) -> ScheduleRow:
        async with self.engine.db.read() as conn:
            row = await store.get(conn, namespace, schedule_id)
        if row is None:
            raise ScheduleNotFound(f"schedule {schedule_id!r} does not exist in namespace {namespace!r}")
        return row

    async def describe(self, namespace: str, schedule_id: str, *, recent: int, upcoming: int) -> Description:
        row = await self.get(namespace, schedule_id)
        async with self.engine.db.read() as conn:
            fires = await store.recent_fires(conn, namespace, schedule_id, recent)
        slots: list[datetime] = []
        spec, after = spec_of(row), row.next_nominal_at
        if not row.paused and after is not None:
            slots.append(after)
            while len(slots) < upcoming and (after := spec.next_after(after)) is not None:
                slots.append(after)
        return Description(row, fires, slots[:upcoming])

    async def page(self, namespace: str, *, after: str | None, limit: int) -> list[ScheduleRow]:
        async with self.engine.db.read() as conn:
            return await store.list_page(conn, namespace, after=after, limit=limit)

    async def update(self, namespace: str, schedule_id: str, changes: dict[str, Any]) -> ScheduleRow:
        """Change the given fields; a change of timing computes the next slot again from now."""
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            raise InvalidSchedule(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
        changes = {
            name: _utc(value) if name in ("start_at", "end_at") else value for name, value in changes.items()
        }
        async with self.engine.work() as work:
            scope = await lock_schedule(work, namespace, schedule_id)
            changed = replace(scope.row, **changes)
            # A new timing must still fire; a stored one that has ended may keep its other changes.
            spec = _checked(changed, work.now if TIMING_FIELDS & set(changes) else None)
            values = dict(changes)
            if TIMING_FIELDS & set(changes):
                values.update(next_slot(spec, schedule_key(namespace, schedule_id), work.now))
            await scope.save(**values)
            await self._emit(
                work,
                scope.row,
                events.ScheduleUpdated(
                    namespace=namespace,
                    schedule_id=schedule_id,
                    changed=sorted(changes),
                    next_nominal_at=scope.row.next_nominal_at,
                ),
            )
            return scope.row

    async def delete(self, namespace: str, schedule_id: str) -> None:
        async with self.engine.work() as work:
            await lock_schedule(work, namespace, schedule_id)
            await store.delete(work.conn, namespace, schedule_id)
            await work.engine.outbox.add(
                work.tx,
                events.ScheduleDeleted(namespace=namespace, schedule_id=schedule_id),
                namespace=namespace,
                subject=f"schedules/{schedule_id}",
            )

    async def pause(self, namespace: str, schedule_id: str, note: str | None) -> ScheduleRow:
        """Stop firing until resumed; `note` (why) replaces the schedule's note when given."""
        async with self.engine.work() as work:
            scope = await lock_schedule(work, namespace, schedule_id)
            await scope.save(paused=True, note=scope.row.note if note is None else note)
            await self._emit(
                work,
                scope.row,
                events.SchedulePaused(namespace=namespace, schedule_id=schedule_id, note=scope.row.note),
            )
            return scope.row

    async def resume(self, namespace: str, schedule_id: str, note: str | None) -> ScheduleRow:
        """Fire again from the first slot after now: the slots of the pause are not caught up.
        `note` replaces the schedule's note when given."""
        async with self.engine.work() as work:
            scope = await lock_schedule(work, namespace, schedule_id)
            spec = spec_of(scope.row)
            slot = next_slot(spec, schedule_key(namespace, schedule_id), work.now)
            await scope.save(paused=False, note=scope.row.note if note is None else note, **slot)
            await self._emit(
                work,
                scope.row,
                events.ScheduleResumed(
                    namespace=namespace,
                    schedule_id=schedule_id,
                    note=scope.row.note,
                    next_nominal_at=scope.row.next_nominal_at,
                ),
            )
            return scope.row

    async def trigger(self, namespace: str, schedule_id: str, policy: OverlapPolicy | None) -> FireRow:
        """Fire now, outside the spec (paused or not), under `policy` or the schedule's own."""
        async with self.engine.work() as work:
            scope = await lock_schedule(work, namespace, schedule_id)
            moment = work.now
            # A trigger's slot is the moment it was asked for; two in one microsecond take two.
            while (fire := await scope.fire("trigger", moment, policy or _policy(scope.row))) is None:
                moment += timedelta(microseconds=1)
            return fire

    async def backfill(
        self, namespace: str, schedule_id: str, start: datetime, end: datetime, policy: OverlapPolicy | None
    ) -> list[FireRow]:
        """Fire now the slots of the spec in [start, end], in order, under `policy` or the
        schedule's own; a slot backfilled before is not fired again."""
        if end < start:
            raise InvalidSchedule("the backfill's end is before its start")
        async with self.engine.work() as work:
            scope = await lock_schedule(work, namespace, schedule_id)
            slots = spec_of(scope.row).fire_times(
                start - timedelta(microseconds=1), end, MAX_BACKFILL_SLOTS + 1
            )
            if len(slots) > MAX_BACKFILL_SLOTS:
                raise InvalidSchedule(
                    f"the range holds more than {MAX_BACKFILL_SLOTS} slots; backfill it in parts"
                )
            fires = [await scope.fire("backfill", slot, policy or _policy(scope.row)) for slot in slots]
            return [fire for fire in fires if fire is not None]

    async def _emit(self, work: Work, row: ScheduleRow, event: events.ScheduleEvent) -> None:
        await work.engine.outbox.add(
            work.tx, event, namespace=row.namespace, subject=f"schedules/{row.schedule_id}"
        )
        # The scheduler sleeps until the earliest slot it knew of: this one may be earlier.
        work.topics.add(SCHEDULER_TOPIC)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _policy(row: ScheduleRow) -> OverlapPolicy:
    assert row.overlap_policy in OVERLAP_POLICIES
    return row.overlap_policy  # type: ignore[return-value]


def _checked(values: ScheduleRow | NewSchedule, now: datetime | None) -> ScheduleSpec:
    """Everything about a schedule that the API's types do not already ensure."""
    check_task_queue(values.task_queue)
    check_search_attributes(values.search_attributes)
    if values.overlap_policy not in OVERLAP_POLICIES:
        raise InvalidSchedule(f"overlap_policy must be one of {', '.join(OVERLAP_POLICIES)}")
    if values.catchup_window_seconds < 1:
        raise InvalidSchedule("catchup_window_seconds must be at least 1")
    return spec_of(values, now=now)
