"""The `NightlyReport` workflow and its `RegionReport` children.

A schedule starts `NightlyReport` every night (`schedule.py`). The report takes an id from a side
effect, starts one `RegionReport` child per region (they run in parallel, each computing its
region's figures in an activity) and completes with the figures of every region and their totals.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from assay import workflow
from assay.workflow import RetryPolicy, WorkflowContext

TASK_QUEUE = "reports"
#: The regions reported on when the input names none.
REGIONS = ("emea", "amer", "apac")
#: Pretend order amounts of the day, in cents, by region: what the activity would read from a
#: sales database.
ORDERS: dict[str, list[int]] = {
    "emea": [1250, 4999, 300],
    "amer": [9900, 150, 2200, 4100],
    "apac": [780],
}
RETRY = RetryPolicy(max_attempts=3, initial_interval=0.5)


@workflow.activity
def region_figures(input: dict[str, str]) -> dict[str, Any]:
    """The figures of region `input["region"]` for day `input["day"]`: its orders, its revenue
    and its largest order (in cents)."""
    amounts = ORDERS.get(input["region"], [])
    return {
        "region": input["region"],
        "day": input["day"],
        "orders": len(amounts),
        "revenue": sum(amounts),
        "largest_order": max(amounts, default=0),
    }


@workflow.defn(name="RegionReport")
async def region_report(ctx: WorkflowContext, input: dict[str, str]) -> dict[str, Any]:
    """One region's part of the report: its figures, computed by an activity."""
    return dict(await ctx.execute_activity(region_figures, input, start_to_close=30, retry=RETRY))


@workflow.defn(name="NightlyReport")
async def nightly_report(ctx: WorkflowContext, input: dict[str, Any] | None) -> dict[str, Any]:
    """Report on the day before the run, in the time zone `input["timezone"]` (default UTC), for
    the regions `input["regions"]` (default `REGIONS`)."""
    settings = input or {}
    # A fresh id, recorded in the history: every replay of this run reads the same one back.
    report_id = ctx.side_effect(lambda: f"report-{uuid.uuid4().hex[:12]}")
    # The workflow's clock, not the wall clock: the same on every replay.
    today = ctx.now().astimezone(ZoneInfo(settings.get("timezone", "UTC"))).date()
    day = (today - timedelta(days=1)).isoformat()
    regions = [
        ctx.execute_child_workflow(
            region_report, {"region": region, "day": day}, workflow_id=f"{ctx.info.workflow_id}-{region}"
        )
        for region in settings.get("regions", REGIONS)
    ]
    figures = await ctx.gather(*regions)
    return {
        "report_id": report_id,
        "day": day,
        "regions": figures,
        "orders": sum(region["orders"] for region in figures),
        "revenue": sum(region["revenue"] for region in figures),
    }


WORKFLOWS: list[Callable[..., Any]] = [nightly_report, region_report]
ACTIVITIES: list[Callable[..., Any]] = [region_figures]
