"""`assay schedule …`: the real command against the running stack, every command in json and in
table output, and its errors: the API's reason with exit code 1, usage errors with 64. No worker
runs here, so every run a schedule starts stays open."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest

from tests.conftest import Stack
from tests.sdk.conftest import Cli, Result
from tests.workflow.worker import create_namespace


@pytest.fixture
async def namespace(stack: Stack, unique: str) -> str:
    return await create_namespace(stack.client, unique)


class Assay(Protocol):
    def __call__(self, *args: str, stdin: str | None = None) -> Awaitable[Result]: ...


@pytest.fixture
def assay(cli: Cli, stack: Stack, namespace: str) -> Assay:
    """`await assay("schedule", …)`: the CLI on the stack, in the test's namespace."""

    async def run(*args: str, stdin: str | None = None) -> Result:
        return await cli.run("--api-url", stack.url, "--namespace", namespace, *args, stdin=stdin)

    return run


def fields(result: Result) -> dict[str, str]:
    """The `name  value` lines of a table-mode record, up to the first blank line."""
    record: dict[str, str] = {}
    for line in result.lines():
        if not line.strip():
            break
        name, _, value = line.partition("  ")
        record[name.strip()] = value.strip()
    return record


def rows(result: Result, header: str) -> list[list[str]]:
    """The rows of the table whose header line starts with `header`."""
    lines = result.lines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    found = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        found.append(line.split())
    return found


async def test_create_sends_every_option_and_prints_the_schedule(
    assay: Assay, namespace: str, tmp_path: Path
) -> None:
    input_file = tmp_path / "input.json"
    input_file.write_text('{"regions": ["emea", "apac"]}')

    made = await assay(
        "schedule", "create", "nightly", "--type", "NightlyReport", "--cron", "30 2 * * *",
        "--timezone", "Europe/Paris", "--input", f"@{input_file}", "--task-queue", "reports",
        "--overlap", "buffer_all", "--jitter", "2.5", "--start-at", "2030-01-01T00:00:00Z",
        "--end-at", "2030-02-01T00:00:00+01:00", "--catchup-window", "600", "--paused",
        "--note", "for the board", "-a", "team=finance", "-a", "tier=2",
    )  # fmt: skip
    tabled = await assay(
        "-o", "table", "schedule", "create", "hourly", "--type", "report", "--cron", "@hourly"
    )

    assert made.code == 0, made.stderr
    created = made.json()
    assert (created["schedule_id"], created["namespace"], created["workflow_type"]) == (
        "nightly", namespace, "NightlyReport"
    )  # fmt: skip
    assert (created["expression"], created["timezone"], created["task_queue"]) == (
        "30 2 * * *", "Europe/Paris", "reports"
    )  # fmt: skip
    assert created["input"] == {"regions": ["emea", "apac"]}
    assert (created["overlap_policy"], created["jitter_seconds"], created["catchup_window_seconds"]) == (
        "buffer_all", 2.5, 600
    )  # fmt: skip
    assert [datetime.fromisoformat(created[name]) for name in ("start_at", "end_at")] == [
        datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 31, 23, tzinfo=UTC)
    ]  # fmt: skip
    assert (created["paused"], created["note"], created["next_run_at"]) == (True, "for the board", None)
    assert created["search_attributes"] == {"team": "finance", "tier": 2}

    assert tabled.code == 0, tabled.stderr
    record = fields(tabled)
    assert (record["Schedule ID"], record["Workflow type"], record["Expression"]) == (
        "hourly",
        "report",
        "@hourly",
    )
    assert (record["Time zone"], record["Overlap"], record["State"], record["Input"]) == (
        "UTC",
        "skip",
        "active",
        "null",
    )
    assert record["Next run"].endswith(":00:00Z")


async def test_list_prints_the_schedules_a_page_at_a_time(assay: Assay) -> None:
    for schedule_id in ("b", "a"):
        made = await assay("schedule", "create", schedule_id, "--type", "report", "--cron", "@daily")
        assert made.code == 0, made.stderr
    await assay("schedule", "pause", "b")

    listed = await assay("schedule", "list")
    table = await assay("-o", "table", "schedule", "list", "--limit", "1")

    assert listed.code == table.code == 0
    assert [s["schedule_id"] for s in listed.json()["items"]] == ["a", "b"]
    assert listed.json()["next_cursor"] is None
    assert table.lines()[0].split() == [
        "SCHEDULE", "ID", "TYPE", "EXPRESSION", "TIME", "ZONE", "OVERLAP", "STATE", "NEXT", "RUN"
    ]  # fmt: skip
    assert table.lines()[1].split()[:4] == ["a", "report", "@daily", "UTC"]
    assert len(table.lines()) == 2
    assert "More: --cursor a" in table.stderr


async def test_describe_shows_the_next_runs_and_the_newest_fires(assay: Assay) -> None:
    await assay(
        "schedule", "create", "daily", "--type", "report", "--cron", "0 3 * * *", "--timezone", "Asia/Tokyo"
    )
    fired = await assay("schedule", "trigger", "daily")

    described = await assay("schedule", "describe", "daily", "--upcoming", "2")
    table = await assay("-o", "table", "schedule", "describe", "daily")

    assert described.code == table.code == 0
    document = described.json()
    # 03:00 in Tokyo is 18:00 UTC the day before.
    assert [moment[11:] for moment in document["upcoming"]] == ["18:00:00Z", "18:00:00Z"]
    workflow_id = fired.json()["workflow_id"]
    assert [(f["trigger"], f["outcome"], f["workflow_id"]) for f in document["recent_fires"]] == [
        ("trigger", "started", workflow_id)
    ]
    assert document["running"] == [workflow_id]
    assert fields(table)["Running"] == workflow_id
    upcoming = rows(table, "NEXT RUNS")
    assert len(upcoming) == 5 and all(run[0].endswith("T18:00:00Z") for run in upcoming)
    (fire,) = rows(table, "SLOT")
    assert fire[1:3] == ["trigger", "started"] and fire[-1] == workflow_id


async def test_patch_changes_what_it_is_given_and_needs_something_to_change(assay: Assay) -> None:
    await assay("schedule", "create", "report", "--type", "report", "--cron", "@daily", "--note", "first")

    patched = await assay(
        "schedule", "patch", "report", "--cron", "@every 10m", "--input", "-", "--overlap", "allow_all",
        stdin='{"full": true}',
    )  # fmt: skip
    nulled = await assay("-o", "table", "schedule", "patch", "report", "--input", "null")
    nothing = await assay("schedule", "patch", "report")

    assert patched.code == 0, patched.stderr
    changed = patched.json()
    assert (changed["expression"], changed["input"], changed["overlap_policy"]) == (
        "@every 10m", {"full": True}, "allow_all"
    )  # fmt: skip
    assert (changed["workflow_type"], changed["note"]) == ("report", "first")
    assert nulled.code == 0, nulled.stderr
    assert (fields(nulled)["Input"], fields(nulled)["Expression"]) == ("null", "@every 10m")
    assert nothing.code == 64
    assert "nothing to change" in nothing.stderr


async def test_pause_and_resume_stop_and_restart_the_slots(assay: Assay) -> None:
    await assay("schedule", "create", "daily", "--type", "report", "--cron", "@daily")

    paused = await assay("schedule", "pause", "daily", "--note", "holiday")
    paused_table = await assay("-o", "table", "schedule", "describe", "daily")
    resumed = await assay("-o", "table", "schedule", "resume", "daily", "--note", "back")

    assert paused.code == 0, paused.stderr
    assert (paused.json()["paused"], paused.json()["note"], paused.json()["next_run_at"]) == (
        True,
        "holiday",
        None,
    )
    assert (fields(paused_table)["State"], fields(paused_table)["Next run"]) == ("paused", "-")
    assert rows(paused_table, "NEXT RUNS") == []
    assert resumed.code == 0, resumed.stderr
    assert (fields(resumed)["State"], fields(resumed)["Note"]) == ("active", "back")
    assert fields(resumed)["Next run"].endswith("T00:00:00Z")


async def test_trigger_prints_the_run_it_started_or_why_it_did_not(assay: Assay) -> None:
    await assay("schedule", "create", "now", "--type", "report", "--cron", "@daily")

    started = await assay("schedule", "trigger", "now")
    skipped = await assay("-o", "table", "schedule", "trigger", "now")
    allowed = await assay("-o", "table", "schedule", "trigger", "now", "--overlap", "allow_all")

    assert started.code == skipped.code == allowed.code == 0
    fire = started.json()
    assert (fire["trigger"], fire["outcome"]) == ("trigger", "started")
    assert fire["workflow_id"].startswith("now-trigger-") and fire["run_id"]
    assert (fields(skipped)["Outcome"], fields(skipped)["Workflow ID"]) == ("skipped", "-")
    assert fields(allowed)["Outcome"] == "started"
    assert fields(allowed)["Workflow ID"].startswith("now-trigger-")


async def test_backfill_fires_the_slots_of_the_range(assay: Assay) -> None:
    await assay("schedule", "create", "hourly", "--type", "report", "--cron", "0 * * * *", "--paused")

    filled = await assay(
        "schedule", "backfill", "hourly", "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T01:00:00Z",
        "--overlap", "allow_all",
    )  # fmt: skip
    table = await assay(
        "-o", "table", "schedule", "backfill", "hourly", "--start", "2026-01-01T01:30:00+00:00",
        "--end", "2026-01-01T03:00:00+01:00",
    )  # fmt: skip

    assert filled.code == 0, filled.stderr
    assert [(f["trigger"], f["outcome"], f["workflow_id"]) for f in filled.json()] == [
        ("backfill", "started", "hourly-20260101T000000Z"),
        ("backfill", "started", "hourly-20260101T010000Z"),
    ]
    assert table.code == 0, table.stderr
    # 03:00+01:00 is 02:00 UTC; the runs of the first backfill are open, so `skip` skips.
    ((slot, trigger, outcome, _, workflow_id),) = rows(table, "SLOT")
    assert (slot, trigger, outcome, workflow_id) == ("2026-01-01T02:00:00Z", "backfill", "skipped", "-")


async def test_delete_removes_the_schedule(assay: Assay) -> None:
    await assay("schedule", "create", "one", "--type", "report", "--cron", "@daily")
    await assay("schedule", "create", "two", "--type", "report", "--cron", "@daily")

    deleted = await assay("schedule", "delete", "one")
    tabled = await assay("-o", "table", "schedule", "delete", "two")
    missing = await assay("schedule", "describe", "one")

    assert (deleted.code, deleted.json()) == (0, {"schedule_id": "one", "status": "deleted"})
    assert (tabled.code, tabled.stdout) == (0, "Schedule 'two' deleted.\n")
    assert (missing.code, missing.stdout) == (1, "")
    assert "404 schedule_not_found" in missing.stderr


async def test_a_bad_cron_expression_exits_1_with_the_services_reason(assay: Assay) -> None:
    refused = await assay("schedule", "create", "bad", "--type", "report", "--cron", "0 25 * * *")
    zone = await assay(
        "schedule", "create", "bad", "--type", "report", "--cron", "@daily", "--timezone", "Mars/Base"
    )
    listed = await assay("schedule", "list")

    assert (refused.code, refused.stdout) == (1, "")
    assert "error: cron: field 'hour' value 25 out of range 0-23" in refused.stderr
    assert "422 invalid_schedule" in refused.stderr
    assert zone.code == 1 and "unknown timezone 'Mars/Base'" in zone.stderr
    assert listed.json()["items"] == []


async def test_values_the_command_cannot_read_are_usage_errors(assay: Assay) -> None:
    base = ("schedule", "create", "bad", "--type", "report", "--cron", "@daily")
    naive = await assay(*base, "--start-at", "2030-01-01T00:00:00")
    garbled = await assay(*base, "--end-at", "next tuesday")
    policy = await assay(*base, "--overlap", "sometimes")
    not_json = await assay(*base, "--input", "{nope")
    listed = await assay("schedule", "list")

    assert naive.code == garbled.code == policy.code == not_json.code == 64
    assert "has no UTC offset" in naive.stderr
    assert "is not an ISO 8601 time" in garbled.stderr
    assert "is not valid JSON" in not_json.stderr
    assert listed.json()["items"] == []
