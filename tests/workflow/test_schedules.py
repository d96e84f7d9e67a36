"""Schedules in the domain, on both backends, with the engine's clock moved by the test: slots
fire once, overlap policies, the catch-up window, pause and resume, changes, triggers,
backfills, jitter, start and end, time zones across a DST change, and fencing."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from assay_common.errors import Invalid
from assay_common.leadership import Leadership, NotLeader
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.namespaces import NamespaceNotFound, Namespaces
from assay_workflow.domain.scheduler import LEASE_NAME, Scheduler
from assay_workflow.domain.schedules import (
    SCHEDULE_ID_ATTRIBUTE,
    InvalidSchedule,
    NewSchedule,
    OverlapPolicy,
    ScheduleExists,
    Schedules,
)
from assay_workflow.domain.workflows import Workflows
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import runs as run_store
from assay_workflow.store import tables
from assay_workflow.store.schedules import FireRow
from tests.conftest import NatsServer
from tests.workflow.engines import engine_on

START = datetime(2027, 1, 4, 9, 0, 0, tzinfo=UTC)


class Clock:
    """The engine's time, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclasses.dataclass
class Fixture:
    engine: Engine
    clock: Clock
    schedules: Schedules
    scheduler: Scheduler
    token: int

    async def at(self, moment: datetime) -> None:
        """Move the clock to `moment` and let the scheduler act once."""
        self.clock.now = moment
        await self.scheduler.turn(self.token)

    async def fires(self, schedule_id: str) -> list[FireRow]:
        found = await self.schedules.describe("main", schedule_id, recent=100, upcoming=0)
        return sorted(found.recent_fires, key=lambda fire: (fire.nominal_at, fire.fired_at))

    async def outcomes(self, schedule_id: str) -> list[tuple[str, str]]:
        return [(fire.nominal_at.strftime("%H:%M"), fire.outcome) for fire in await self.fires(schedule_id)]


@pytest.fixture
async def fx(database_url: str, unique: str, nats_server: NatsServer) -> AsyncIterator[Fixture]:
    async with engine_on(database_url, unique, nats_server.url, WorkflowSettings()) as engine:
        clock = Clock(START)
        engine.clock = clock
        leadership = Leadership(engine.db, tables.leader_leases, LEASE_NAME, "the-test", ttl_seconds=3600)
        token = await leadership.acquire_or_renew()
        assert token is not None
        yield Fixture(engine, clock, Schedules(engine), Scheduler(engine, leadership), token)


def new(schedule_id: str, expression: str = "*/10 * * * *", **changes: Any) -> NewSchedule:
    values: dict[str, Any] = {
        "namespace": "main",
        "schedule_id": schedule_id,
        "workflow_type": "report",
        "task_queue": "main",
        "input": {"kind": "nightly"},
        "search_attributes": {"team": "finance"},
        "run_timeout_seconds": None,
        "expression": expression,
        "timezone": "UTC",
        "jitter_seconds": 0.0,
        "start_at": None,
        "end_at": None,
        "overlap_policy": "skip",
        "catchup_window_seconds": 3600.0,
        "paused": False,
        "note": "",
    }
    return NewSchedule(**{**values, **changes})


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


async def open_runs(engine: Engine, schedule_id: str) -> list[str]:
    async with engine.db.read() as conn:
        query = sa.select(tables.runs.c.workflow_id).where(
            tables.runs.c.status == "RUNNING", tables.runs.c.workflow_id.like(f"{schedule_id}-%")
        )
        return sorted((await conn.execute(query)).scalars())


async def test_a_schedule_starts_one_run_per_slot_with_its_action(fx: Fixture) -> None:
    made = await fx.schedules.create(new("every-ten"))
    assert made.next_nominal_at == START + minutes(10)
    await fx.at(START + minutes(9))
    assert await fx.fires("every-ten") == []
    await fx.at(START + minutes(10))
    await fx.at(START + minutes(10))  # a second turn at the same moment fires nothing more
    (fire,) = await fx.fires("every-ten")
    assert (fire.outcome, fire.trigger, fire.fencing_token) == ("started", "scheduled", fx.token)
    assert fire.workflow_id == "every-ten-20270104T091000Z"
    run = await Workflows(fx.engine).get("main", fire.workflow_id, None)
    assert (run.workflow_type, run.input, run.run_id) == ("report", {"kind": "nightly"}, fire.run_id)
    assert run.search_attributes["team"] == "finance"
    assert run.search_attributes[SCHEDULE_ID_ATTRIBUTE] == "every-ten"
    described = await fx.schedules.describe("main", "every-ten", recent=5, upcoming=3)
    assert described.upcoming == [START + minutes(20), START + minutes(30), START + minutes(40)]
    assert described.schedule.running == [fire.workflow_id]


async def test_every_fire_is_published(fx: Fixture) -> None:
    await fx.schedules.create(new("published", overlap_policy="allow_all"))
    await fx.at(START + minutes(10))
    async with fx.engine.db.read() as conn:
        query = sa.select(tables.outbox.c.subject)
        subjects = list((await conn.execute(query)).scalars())
    assert any(subject.endswith(".schedule_created") for subject in subjects)
    assert any(subject.endswith(".schedule_fired") for subject in subjects)
    assert any(subject.endswith(".workflow_started") for subject in subjects)


async def test_creation_is_validated(fx: Fixture) -> None:
    with pytest.raises(InvalidSchedule, match="hour"):
        await fx.schedules.create(new("bad", "0 25 * * *"))
    with pytest.raises(InvalidSchedule, match="Mars"):
        await fx.schedules.create(new("bad", timezone="Mars/Olympus"))
    with pytest.raises(NamespaceNotFound):
        await fx.schedules.create(new("bad", namespace="nowhere"))
    with pytest.raises(Invalid):
        await fx.schedules.create(new("bad", task_queue="no spaces"))
    await fx.schedules.create(new("once"))
    with pytest.raises(ScheduleExists):
        await fx.schedules.create(new("once"))
    assert [row.schedule_id for row in await fx.schedules.page("main", after=None, limit=10)] == ["once"]


async def overlapping(fx: Fixture, policy: OverlapPolicy) -> str:
    """A schedule of `policy` whose first run is still open when its next two slots come."""
    await fx.schedules.create(new(policy, overlap_policy=policy))
    for slot in (10, 20, 30):
        await fx.at(START + minutes(slot))
    return policy


async def test_skip_records_the_slots_that_came_while_a_run_was_open(fx: Fixture) -> None:
    schedule = await overlapping(fx, "skip")
    assert await fx.outcomes(schedule) == [("09:10", "started"), ("09:20", "skipped"), ("09:30", "skipped")]


async def test_buffer_one_starts_one_waiting_fire_when_the_run_closes(fx: Fixture) -> None:
    schedule = await overlapping(fx, "buffer_one")
    assert await fx.outcomes(schedule) == [("09:10", "started"), ("09:20", "buffered"), ("09:30", "skipped")]
    await Workflows(fx.engine).terminate("main", f"{schedule}-20270104T091000Z", None, "done")
    await fx.at(START + minutes(31))
    assert await fx.outcomes(schedule) == [("09:10", "started"), ("09:20", "started"), ("09:30", "skipped")]
    assert await open_runs(fx.engine, schedule) == [f"{schedule}-20270104T092000Z"]


async def test_buffer_all_starts_every_waiting_fire_one_after_the_other(fx: Fixture) -> None:
    schedule = await overlapping(fx, "buffer_all")
    assert [outcome for _, outcome in await fx.outcomes(schedule)] == ["started", "buffered", "buffered"]
    for slot in ("0910", "0920"):
        await Workflows(fx.engine).terminate("main", f"{schedule}-20270104T{slot}00Z", None, "done")
        await fx.at(fx.clock.now + timedelta(seconds=1))
    assert [outcome for _, outcome in await fx.outcomes(schedule)] == ["started"] * 3
    assert await open_runs(fx.engine, schedule) == [f"{schedule}-20270104T093000Z"]


async def test_cancel_other_asks_the_open_run_to_cancel_and_waits_for_it(fx: Fixture) -> None:
    schedule = await overlapping(fx, "cancel_other")
    first = f"{schedule}-20270104T091000Z"
    assert await fx.outcomes(schedule) == [("09:10", "started"), ("09:20", "buffered"), ("09:30", "skipped")]
    run = await Workflows(fx.engine).get("main", first, None)
    async with fx.engine.db.read() as conn:
        requested = await run_store.events(conn, run.run_id, types=("CancelRequested",))
    assert len(requested) == 1, "asked once, however many slots came"
    await Workflows(fx.engine).terminate("main", first, None, "it ended")
    await fx.at(START + minutes(31))
    assert await open_runs(fx.engine, schedule) == [f"{schedule}-20270104T092000Z"]


async def test_terminate_other_ends_the_open_run_and_starts_at_once(fx: Fixture) -> None:
    schedule = await overlapping(fx, "terminate_other")
    assert [outcome for _, outcome in await fx.outcomes(schedule)] == ["started"] * 3
    assert await open_runs(fx.engine, schedule) == [f"{schedule}-20270104T093000Z"]
    first = await Workflows(fx.engine).get("main", f"{schedule}-20270104T091000Z", None)
    assert first.status == "TERMINATED"


async def test_allow_all_starts_every_slot(fx: Fixture) -> None:
    schedule = await overlapping(fx, "allow_all")
    assert len(await open_runs(fx.engine, schedule)) == 3


async def test_slots_past_the_catch_up_window_are_recorded_once_as_missed(fx: Fixture) -> None:
    await fx.schedules.create(
        new("late", "* * * * *", catchup_window_seconds=600, overlap_policy="allow_all")
    )
    # Down from 09:00 to 12:00: 170 slots are older than ten minutes; the last ten still fire.
    await fx.at(START + timedelta(hours=3))
    fires = await fx.fires("late")
    missed = [fire for fire in fires if fire.outcome == "missed"]
    started = [fire.nominal_at for fire in fires if fire.outcome == "started"]
    assert len(missed) == 1 and missed[0].nominal_at == START + minutes(1)
    assert started == [START + timedelta(hours=3) - minutes(n) for n in range(10, -1, -1)]
    row = await fx.schedules.get("main", "late")
    assert (row.missed, row.next_nominal_at) == (169, START + timedelta(hours=3) + minutes(1))


async def test_a_paused_schedule_does_not_fire_and_resumes_from_the_next_slot_after_now(fx: Fixture) -> None:
    await fx.schedules.create(new("paused"))
    await fx.schedules.pause("main", "paused", "maintenance")
    await fx.at(START + minutes(45))
    assert await fx.fires("paused") == []
    described = await fx.schedules.describe("main", "paused", recent=0, upcoming=3)
    assert (described.schedule.note, described.upcoming) == ("maintenance", [])
    resumed = await fx.schedules.resume("main", "paused", "")
    assert resumed.next_nominal_at == START + minutes(50), "the paused slots are not caught up"
    await fx.at(START + minutes(50))
    assert await fx.outcomes("paused") == [("09:50", "started")]


async def test_a_change_of_timing_computes_the_next_slot_again_and_a_bad_one_changes_nothing(
    fx: Fixture,
) -> None:
    await fx.schedules.create(new("changing"))
    fx.clock.now = START + minutes(3)
    changed = await fx.schedules.update("main", "changing", {"expression": "@hourly", "note": "slower"})
    assert (changed.next_nominal_at, changed.note) == (START + minutes(60), "slower")
    with pytest.raises(InvalidSchedule):
        await fx.schedules.update("main", "changing", {"expression": "61 * * * *"})
    with pytest.raises(InvalidSchedule):
        await fx.schedules.update("main", "changing", {"namespace": "other"})
    assert (await fx.schedules.get("main", "changing")).expression == "@hourly"


async def test_trigger_fires_now_even_when_paused_and_backfill_fires_each_slot_once(fx: Fixture) -> None:
    await fx.schedules.create(new("manual", paused=True, overlap_policy="allow_all"))
    fired = await fx.schedules.trigger("main", "manual", None)
    assert (fired.trigger, fired.outcome, fired.nominal_at) == ("trigger", "started", START)
    earlier = START - timedelta(hours=1)
    backfilled = await fx.schedules.backfill("main", "manual", earlier, earlier + minutes(30), None)
    assert [fire.nominal_at for fire in backfilled] == [earlier + minutes(m) for m in (0, 10, 20, 30)]
    assert all(fire.outcome == "started" for fire in backfilled)
    again = await fx.schedules.backfill("main", "manual", earlier, earlier + minutes(30), None)
    assert again == [], "a slot backfilled before is not fired again"
    with pytest.raises(InvalidSchedule, match="parts"):
        await fx.schedules.backfill("main", "manual", START - timedelta(days=365), START, None)
    skipped = await fx.schedules.trigger("main", "manual", "skip")
    assert skipped.outcome == "skipped"


async def test_jitter_delays_each_fire_within_its_bound_alike_on_every_replica(fx: Fixture) -> None:
    made = await fx.schedules.create(new("jittered", "@hourly", jitter_seconds=600))
    assert made.next_nominal_at == START + minutes(60)
    assert made.next_due_at is not None
    delay = made.next_due_at - made.next_nominal_at
    assert timedelta(0) <= delay < minutes(10)
    await fx.at(made.next_due_at - timedelta(microseconds=1))
    assert await fx.fires("jittered") == []
    await fx.at(made.next_due_at)
    assert await fx.outcomes("jittered") == [("10:00", "started")]


async def test_no_slot_fires_outside_start_and_end(fx: Fixture) -> None:
    made = await fx.schedules.create(
        new("bounded", start_at=START + minutes(25), end_at=START + minutes(45), overlap_policy="allow_all")
    )
    assert made.next_nominal_at == START + minutes(30)
    await fx.at(START + minutes(50))
    assert await fx.outcomes("bounded") == [("09:30", "started"), ("09:40", "started")]
    assert (await fx.schedules.get("main", "bounded")).next_nominal_at is None
    # An ended schedule can still be described and changed, but not given a timing that never fires.
    assert (await fx.schedules.describe("main", "bounded", recent=0, upcoming=3)).upcoming == []
    assert (await fx.schedules.update("main", "bounded", {"note": "ended"})).note == "ended"
    with pytest.raises(InvalidSchedule, match="never fires after now"):
        await fx.schedules.update("main", "bounded", {"expression": "*/5 * * * *"})


async def test_a_daily_slot_in_the_spring_forward_gap_fires_once_when_the_gap_ends(fx: Fixture) -> None:
    # Europe/Berlin moved from 02:00 to 03:00 on 2027-03-28 (01:00 UTC).
    fx.clock.now = datetime(2027, 3, 27, 12, 0, tzinfo=UTC)
    await fx.schedules.create(new("berlin", "30 2 * * *", timezone="Europe/Berlin"))
    for hour in range(0, 30):
        await fx.at(datetime(2027, 3, 27, 12, 0, tzinfo=UTC) + timedelta(hours=hour))
    fires = await fx.fires("berlin")
    assert [fire.nominal_at for fire in fires] == [datetime(2027, 3, 28, 1, 0, tzinfo=UTC)]


async def test_a_daily_slot_in_the_repeated_hour_of_fall_back_fires_once(fx: Fixture) -> None:
    # America/New_York went from 02:00 EDT back to 01:00 EST on 2027-11-07 (06:00 UTC): 01:30
    # happened at 05:30 UTC and again at 06:30 UTC.
    fx.clock.now = datetime(2027, 11, 6, 12, 0, tzinfo=UTC)
    await fx.schedules.create(new("new-york", "30 1 * * *", timezone="America/New_York"))
    for quarter in range(0, 30 * 4):
        await fx.at(datetime(2027, 11, 6, 12, 0, tzinfo=UTC) + minutes(15 * quarter))
    fires = await fx.fires("new-york")
    assert [fire.nominal_at for fire in fires] == [datetime(2027, 11, 7, 5, 30, tzinfo=UTC)]


async def test_a_scheduler_that_lost_its_lease_writes_nothing(fx: Fixture) -> None:
    await fx.schedules.create(new("fenced"))
    usurper = Leadership(fx.engine.db, tables.leader_leases, LEASE_NAME, "another", ttl_seconds=3600)
    async with fx.engine.db.transaction() as tx:
        # The lease lapses: another replica takes it.
        await tx.execute(tables.leader_leases.update().values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))
    new_token = await usurper.acquire_or_renew()
    assert new_token is not None and new_token > fx.token
    fx.clock.now = START + minutes(10)
    with pytest.raises(NotLeader):
        await fx.scheduler.turn(fx.token)
    assert await fx.fires("fenced") == []
    await Scheduler(fx.engine, usurper).turn(new_token)
    (fire,) = await fx.fires("fenced")
    assert fire.fencing_token == new_token


async def test_deleting_a_namespace_deletes_its_schedules(fx: Fixture) -> None:
    await Namespaces(fx.engine.db, fx.engine.outbox).create("doomed", "")
    await fx.schedules.create(new("orphan", namespace="doomed"))
    await fx.schedules.create(new("kept"))
    await Namespaces(fx.engine.db, fx.engine.outbox).delete("doomed")
    assert await fx.schedules.page("doomed", after=None, limit=10) == []
    await fx.at(START + minutes(10))
    assert await fx.outcomes("kept") == [("09:10", "started")]
