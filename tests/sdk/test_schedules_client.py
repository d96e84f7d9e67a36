"""`client.schedules` and its blocking twin against the running platform: each operation with its
typed result, and the API's errors as `ApiError`s. No worker runs here, so every run a schedule
starts stays open."""

from __future__ import annotations

from asyncio import to_thread
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from assay.client import (
    ApiError,
    AssayClient,
    Schedule,
    ScheduleDescription,
    ScheduleFire,
    SchedulePage,
    SyncAssayClient,
)
from tests.conftest import Stack
from tests.workflow.worker import create_namespace

#: A slot far enough ahead that nothing fires during a test.
NEW_YEAR_2030 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[AssayClient]:
    async with AssayClient(stack.url, timeout=30) as client:
        yield client


@pytest.fixture
async def namespace(stack: Stack, unique: str) -> str:
    return await create_namespace(stack.client, unique)


async def test_a_schedule_keeps_what_it_was_created_with_and_names_its_next_slots(
    client: AssayClient, namespace: str
) -> None:
    created = await client.schedules.create(
        "board-report", "report", "30 2 * * *", {"regions": ["emea"]}, namespace=namespace,
        timezone="Europe/Paris", task_queue="reports", overlap_policy="buffer_one", jitter=5,
        start_at=NEW_YEAR_2030, end_at=NEW_YEAR_2030 + timedelta(days=30), catchup_window=600,
        note="for the board", search_attributes={"team": "finance"}, run_timeout=3600,
    )  # fmt: skip

    assert isinstance(created, Schedule)
    assert (created.namespace, created.schedule_id, created.workflow_type) == (
        namespace,
        "board-report",
        "report",
    )
    assert (created.expression, created.timezone, created.task_queue) == (
        "30 2 * * *",
        "Europe/Paris",
        "reports",
    )
    assert (created.overlap_policy, created.jitter_seconds, created.catchup_window_seconds) == (
        "buffer_one",
        5,
        600,
    )
    assert (created.start_at, created.end_at) == (NEW_YEAR_2030, NEW_YEAR_2030 + timedelta(days=30))
    assert (created.input, created.search_attributes, created.run_timeout_seconds) == (
        {"regions": ["emea"]}, {"team": "finance"}, 3600
    )  # fmt: skip
    assert (created.paused, created.note, created.last_fired_at, created.running) == (
        False,
        "for the board",
        None,
        [],
    )
    # 02:30 in Paris is 01:30 UTC in winter.
    first = datetime(2030, 1, 1, 1, 30, tzinfo=UTC)
    assert created.next_run_at == first

    described = await client.schedules.describe("board-report", namespace=namespace, upcoming=3)
    assert isinstance(described, ScheduleDescription)
    assert described.upcoming == [first + timedelta(days=day) for day in range(3)]
    assert described.recent_fires == []
    assert described.model_dump(exclude={"recent_fires", "upcoming"}) == created.model_dump()


async def test_schedules_are_listed_by_id_a_page_at_a_time(client: AssayClient, namespace: str) -> None:
    for schedule_id in ("c", "a", "b"):
        await client.schedules.create(schedule_id, "report", "@daily", namespace=namespace)

    first = await client.schedules.list(namespace=namespace, limit=2)
    second = await client.schedules.list(namespace=namespace, limit=2, cursor=first.next_cursor)

    assert isinstance(first, SchedulePage)
    assert [s.schedule_id for s in first.items] == ["a", "b"] and first.next_cursor is not None
    assert [s.schedule_id for s in second.items] == ["c"] and second.next_cursor is None


async def test_an_update_changes_only_what_it_is_given(client: AssayClient, namespace: str) -> None:
    await client.schedules.create(
        "hourly",
        "report",
        "@daily",
        {"full": True},
        namespace=namespace,
        start_at=NEW_YEAR_2030,
        note="first",
    )

    updated = await client.schedules.update(
        "hourly",
        namespace=namespace,
        expression="0 * * * *",
        input=None,
        start_at=None,
        overlap_policy="allow_all",
    )

    assert (updated.expression, updated.input, updated.start_at, updated.overlap_policy) == (
        "0 * * * *", None, None, "allow_all"
    )  # fmt: skip
    assert (updated.workflow_type, updated.note, updated.timezone) == ("report", "first", "UTC")
    # A change of timing computes the next slot again from now: the next full hour.
    assert updated.next_run_at is not None and updated.next_run_at < NEW_YEAR_2030
    assert (updated.next_run_at.minute, updated.next_run_at.second) == (0, 0)


async def test_a_paused_schedule_has_no_next_run_until_it_is_resumed(
    client: AssayClient, namespace: str
) -> None:
    await client.schedules.create("daily", "report", "@daily", namespace=namespace)

    paused = await client.schedules.pause("daily", "holiday", namespace=namespace)
    described = await client.schedules.describe("daily", namespace=namespace)
    resumed = await client.schedules.resume("daily", "back", namespace=namespace)

    assert (paused.paused, paused.note, paused.next_run_at) == (True, "holiday", None)
    assert described.upcoming == []
    assert (resumed.paused, resumed.note) == (False, "back")
    assert resumed.next_run_at is not None and resumed.next_run_at.time().hour == 0


async def test_a_trigger_starts_a_run_under_the_overlap_policy(client: AssayClient, namespace: str) -> None:
    await client.schedules.create("now", "report", "@daily", {"n": 1}, namespace=namespace, paused=True)

    started = await client.schedules.trigger("now", namespace=namespace)
    skipped = await client.schedules.trigger("now", namespace=namespace)
    allowed = await client.schedules.trigger("now", namespace=namespace, overlap_policy="allow_all")

    assert isinstance(started, ScheduleFire)
    assert (started.trigger, started.outcome) == ("trigger", "started")
    assert started.workflow_id is not None and started.workflow_id.startswith("now-trigger-")
    run = await client.workflows.get(started.workflow_id, namespace=namespace)
    assert (run.run_id, run.status, run.input) == (started.run_id, "RUNNING", {"n": 1})
    assert run.search_attributes["AssayScheduleId"] == "now"
    # The first run is still open: the schedule's `skip` skips, `allow_all` starts another.
    assert (skipped.outcome, skipped.workflow_id) == ("skipped", None)
    assert allowed.outcome == "started"
    described = await client.schedules.describe("now", namespace=namespace)
    assert set(described.running) == {started.workflow_id, allowed.workflow_id}
    assert [fire.outcome for fire in described.recent_fires] == ["started", "skipped", "started"]


async def test_a_backfill_fires_each_slot_of_the_range_once(client: AssayClient, namespace: str) -> None:
    await client.schedules.create("hourly", "report", "0 * * * *", namespace=namespace, paused=True)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    fires = await client.schedules.backfill(
        "hourly", start, start + timedelta(hours=2), namespace=namespace, overlap_policy="allow_all"
    )
    again = await client.schedules.backfill("hourly", start, start + timedelta(hours=2), namespace=namespace)

    assert [(f.trigger, f.outcome, f.nominal_at) for f in fires] == [
        ("backfill", "started", start + timedelta(hours=hour)) for hour in range(3)
    ]
    assert [f.workflow_id for f in fires] == [f"hourly-20260101T0{hour}0000Z" for hour in range(3)]
    assert again == []


async def test_a_deleted_schedule_is_gone_and_the_api_errors_are_api_errors(
    client: AssayClient, namespace: str
) -> None:
    await client.schedules.create("doomed", "report", "@daily", namespace=namespace)
    with pytest.raises(ApiError) as exists:
        await client.schedules.create("doomed", "report", "@hourly", namespace=namespace)
    with pytest.raises(ApiError) as bad_hour:
        await client.schedules.create("bad", "report", "0 25 * * *", namespace=namespace)
    with pytest.raises(ApiError) as bad_zone:
        await client.schedules.update("doomed", namespace=namespace, timezone="Mars/Olympus")
    with pytest.raises(ApiError) as backwards:
        await client.schedules.backfill(
            "doomed", NEW_YEAR_2030, NEW_YEAR_2030 - timedelta(days=1), namespace=namespace
        )
    with pytest.raises(ApiError) as nowhere:
        await client.schedules.create("lost", "report", "@daily", namespace=f"{namespace}-nowhere")

    await client.schedules.delete("doomed", namespace=namespace)

    assert (exists.value.status, exists.value.code) == (409, "schedule_exists")
    assert (bad_hour.value.status, bad_hour.value.code) == (422, "invalid_schedule")
    assert bad_hour.value.detail is not None and "hour" in bad_hour.value.detail
    assert bad_zone.value.detail == "unknown timezone 'Mars/Olympus'"
    assert (backwards.value.status, backwards.value.detail) == (422, "the backfill's end is before its start")
    assert (nowhere.value.status, nowhere.value.code) == (404, "namespace_not_found")
    for action in (
        lambda: client.schedules.describe("doomed", namespace=namespace),
        lambda: client.schedules.pause("doomed", namespace=namespace),
        lambda: client.schedules.trigger("doomed", namespace=namespace),
        lambda: client.schedules.delete("doomed", namespace=namespace),
    ):
        with pytest.raises(ApiError) as missing:
            await action()
        assert (missing.value.status, missing.value.code) == (404, "schedule_not_found")
    assert (await client.schedules.list(namespace=namespace)).items == []


async def test_the_blocking_client_manages_schedules(stack: Stack, namespace: str) -> None:
    slot = datetime(2029, 12, 31, tzinfo=UTC)
    client = await to_thread(SyncAssayClient, stack.url, timeout=30)
    try:
        schedules = client.schedules
        created = await to_thread(schedules.create, "sync", "report", "@daily", namespace=namespace)
        updated = await to_thread(schedules.update, "sync", namespace=namespace, note="blocking")
        paused = await to_thread(schedules.pause, "sync", namespace=namespace)
        resumed = await to_thread(schedules.resume, "sync", namespace=namespace)
        backfilled = await to_thread(schedules.backfill, "sync", slot, slot, namespace=namespace)
        fire = await to_thread(schedules.trigger, "sync", namespace=namespace, overlap_policy="allow_all")
        described = await to_thread(schedules.describe, "sync", namespace=namespace)
        page = await to_thread(schedules.list, namespace=namespace)
        await to_thread(schedules.delete, "sync", namespace=namespace)
        with pytest.raises(ApiError) as missing:
            await to_thread(schedules.describe, "sync", namespace=namespace)
    finally:
        await to_thread(client.close)

    assert (created.note, updated.note, paused.paused, resumed.paused) == ("", "blocking", True, False)
    assert [(f.outcome, f.workflow_id) for f in backfilled] == [("started", "sync-20291231T000000Z")]
    assert fire.outcome == "started"
    assert [f.workflow_id for f in described.recent_fires] == [fire.workflow_id, "sync-20291231T000000Z"]
    assert [s.schedule_id for s in page.items] == ["sync"]
    assert missing.value.status == 404
