"""examples/nightly_report: a schedule in a time zone starts a report that runs a child workflow
per region and takes its id from a side effect; triggered at once, and firing on its own."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from assay.client import ApiError, AssayClient
from examples.nightly_report.schedule import SCHEDULE_ID, TIMEZONE, ensure_schedule, run_once
from examples.nightly_report.workflows import ACTIVITIES, TASK_QUEUE, WORKFLOWS
from tests.examples.conftest import ExampleWorker
from tests.support import eventually

#: What `region_figures` computes from the example's pretend orders.
FIGURES = {
    "emea": {"orders": 3, "revenue": 6549, "largest_order": 4999},
    "amer": {"orders": 4, "revenue": 16350, "largest_order": 9900},
    "apac": {"orders": 1, "revenue": 780, "largest_order": 780},
}


def is_two_in_the_morning(moment: datetime) -> bool:
    """`moment` is 02:00 in the schedule's time zone, or 03:00 on a day that skips 02:00 (the
    spring's change to summer time, when a schedule fires at the end of the skipped hour)."""
    zone = ZoneInfo(TIMEZONE)
    local = moment.astimezone(zone)
    two = datetime.combine(local.date(), time(2), tzinfo=zone)
    is_skipped = two.astimezone(UTC).astimezone(zone).time() != time(2)
    return local.time() == (time(3) if is_skipped else time(2))


async def test_the_triggered_schedule_reports_every_region_through_its_children(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        created = await ensure_schedule(client, namespace)
        workflow_id, report = await run_once(client, namespace)

    assert (created.expression, created.timezone, created.overlap_policy) == ("0 2 * * *", TIMEZONE, "skip")
    assert created.next_run_at is not None
    assert is_two_in_the_morning(created.next_run_at)
    assert report["report_id"].startswith("report-")
    assert [region.pop("region") for region in report["regions"]] == ["emea", "amer", "apac"]
    assert {region.pop("day") for region in report["regions"]} == {report["day"]}
    assert report["regions"] == list(FIGURES.values())
    assert (report["orders"], report["revenue"]) == (8, 23679)

    children = await client.workflows.children(workflow_id, namespace=namespace)
    assert [(child.workflow_id, child.workflow_type, child.status) for child in children] == [
        (f"{workflow_id}-{region}", "RegionReport", "COMPLETED") for region in FIGURES
    ]
    events = await client.workflows.events(workflow_id, namespace=namespace)
    side_effects = [event.attributes["value"] for event in events if event.type == "SideEffectRecorded"]
    assert side_effects == [report["report_id"]]
    run = await client.workflows.get(workflow_id, namespace=namespace)
    assert run.search_attributes["AssayScheduleId"] == SCHEDULE_ID

    described = await client.schedules.describe(SCHEDULE_ID, namespace=namespace)
    fire = described.recent_fires[0]
    assert (fire.trigger, fire.outcome, fire.workflow_id) == ("trigger", "started", workflow_id)
    assert len(described.upcoming) == 5
    assert all(is_two_in_the_morning(moment) for moment in described.upcoming)


async def test_running_the_script_again_updates_the_schedule_it_made(
    client: AssayClient, namespace: str
) -> None:
    await ensure_schedule(client, namespace)
    await client.schedules.update(SCHEDULE_ID, namespace=namespace, expression="@hourly", note="edited")

    restored = await ensure_schedule(client, namespace)

    assert (restored.expression, restored.note) == ("0 2 * * *", "examples/nightly_report")
    page = await client.schedules.list(namespace=namespace)
    assert [schedule.schedule_id for schedule in page.items] == [SCHEDULE_ID]


async def test_a_schedule_every_second_fires_on_its_own_and_its_report_completes(
    client: AssayClient, namespace: str, example_worker: ExampleWorker
) -> None:
    async with example_worker(TASK_QUEUE, WORKFLOWS, ACTIVITIES):
        await ensure_schedule(client, namespace)
        try:
            await client.schedules.update(SCHEDULE_ID, namespace=namespace, expression="@every 1s")
            started: list[str] = []

            async def fired_on_its_own() -> bool:
                described = await client.schedules.describe(SCHEDULE_ID, namespace=namespace)
                started[:] = [
                    fire.workflow_id
                    for fire in described.recent_fires
                    if fire.trigger == "scheduled" and fire.outcome == "started" and fire.workflow_id
                ]
                return bool(started)

            await eventually(fired_on_its_own, within=30, what="a scheduled fire that started a report")
            report = await client.workflows.result(started[-1], namespace=namespace, timeout=30)
        finally:
            await client.schedules.delete(SCHEDULE_ID, namespace=namespace)

    assert (report["orders"], report["revenue"]) == (8, 23679)
    run = await client.workflows.get(started[-1], namespace=namespace)
    assert run.status == "COMPLETED"
    assert run.search_attributes["AssayScheduleId"] == SCHEDULE_ID
    with pytest.raises(ApiError) as gone:
        await client.schedules.describe(SCHEDULE_ID, namespace=namespace)
    assert (gone.value.status, gone.value.code) == (404, "schedule_not_found")
