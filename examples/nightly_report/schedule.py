"""`python -m examples.nightly_report.schedule [--trigger]`: create the nightly schedule (or bring
it in line with this file) and print its next runs; with `--trigger`, also run the report once now
and print it."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from assay.client import ApiError, AssayClient, Schedule
from examples import api_url, namespace
from examples.nightly_report.workflows import REGIONS, TASK_QUEUE

SCHEDULE_ID = "nightly-report"
#: Every day at 02:00, Paris time (daylight saving time included).
EXPRESSION = "0 2 * * *"
TIMEZONE = "Europe/Paris"
#: What the schedule sets; the same on create and on update.
SETTINGS: dict[str, Any] = {
    "workflow_type": "NightlyReport",
    "expression": EXPRESSION,
    "timezone": TIMEZONE,
    "input": {"regions": list(REGIONS), "timezone": TIMEZONE},
    "task_queue": TASK_QUEUE,
    # A night whose report still runs when the next one is due skips it.
    "overlap_policy": "skip",
    "note": "examples/nightly_report",
}


async def ensure_schedule(client: AssayClient, ns: str) -> Schedule:
    """Create the schedule, or update it to `SETTINGS` when it exists already."""
    try:
        return await client.schedules.create(SCHEDULE_ID, namespace=ns, **SETTINGS)
    except ApiError as exc:
        if exc.code != "schedule_exists":
            raise
    return await client.schedules.update(SCHEDULE_ID, namespace=ns, **SETTINGS)


async def run_once(client: AssayClient, ns: str) -> tuple[str, Any]:
    """Fire the schedule now (not waiting for 02:00); the workflow id of the report and its result."""
    fire = await client.schedules.trigger(SCHEDULE_ID, namespace=ns)
    if fire.workflow_id is None or fire.outcome != "started":
        raise RuntimeError(f"the trigger started no report ({fire.outcome})")
    return fire.workflow_id, await client.workflows.result(fire.workflow_id, namespace=ns)


async def main(trigger: bool) -> None:
    ns = namespace()
    async with AssayClient(api_url()) as client:
        await ensure_schedule(client, ns)
        described = await client.schedules.describe(SCHEDULE_ID, namespace=ns, upcoming=3)
        print(f"schedule {SCHEDULE_ID!r}: {EXPRESSION} ({TIMEZONE}); next runs (UTC):")
        for moment in described.upcoming:
            print(f"  {moment.isoformat()}")
        if trigger:
            workflow_id, report = await run_once(client, ns)
            print(f"triggered {workflow_id}:")
            print(json.dumps(report, indent=2))


if __name__ == "__main__":
    options = argparse.ArgumentParser(prog="python -m examples.nightly_report.schedule")
    options.add_argument("--trigger", action="store_true", help="also run the report once now")
    asyncio.run(main(options.parse_args().trigger))
