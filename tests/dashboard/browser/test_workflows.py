"""The workflow console in a real browser, against the stack and real example workers: starting
a workflow from the form and watching it complete, approving a pipeline step from the Steps tab,
the row actions of the list, a schedule's life, and every page's accessibility in both themes."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Locator, Page, expect

from examples.approval_pipeline.workflows import TASK_QUEUE as APPROVALS
from examples.hello.workflows import TASK_QUEUE as HELLO
from tests.conftest import Stack
from tests.dashboard.browser.conftest import WorkerFor, check_accessibility, screenshot_both_themes
from tests.support import eventually


async def start(
    stack: Stack, namespace: str, workflow_id: str, workflow_type: str, queue: str, input: Any
) -> None:
    response = await stack.client.post(
        "/api/v1/workflows",
        json={
            "namespace": namespace,
            "workflow_id": workflow_id,
            "workflow_type": workflow_type,
            "task_queue": queue,
            "input": input,
        },
    )
    assert response.status_code == 201, response.text


async def wait_for_review(stack: Stack, namespace: str, workflow_id: str) -> None:
    async def in_review() -> bool:
        found = await stack.client.get(
            f"/api/v1/workflows/{workflow_id}/state", params={"namespace": namespace}
        )
        if found.status_code == 404:  # until the first workflow task records the state
            return False
        assert found.status_code == 200, found.text
        return bool(found.json()["state"]["pipeline_state"]["current_step"] == "review")

    await eventually(in_review, within=30, what=f"{workflow_id} reaching its review")


def row_of(page: Page, workflow_id: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=workflow_id, exact=True))


async def test_a_workflow_started_from_the_form_completes_without_a_reload(
    signed_in_page: Page, worker_for: WorkerFor, namespace: str
) -> None:
    page = signed_in_page
    async with worker_for("hello", namespace):
        await page.goto(f"/workflows?namespace={namespace}")
        await expect(page.get_by_text("No workflow runs match.")).to_be_visible()
        await page.get_by_role("button", name="Start workflow").click()
        form = page.locator("#start-form")
        await form.get_by_label("Workflow type").fill("hello")
        await form.get_by_label("Workflow id").fill("greet-ada")
        await form.get_by_label("Task queue").fill(HELLO)
        await form.get_by_label("Input (JSON)").fill('{"name": ')
        await form.get_by_role("button", name="Start", exact=True).click()
        # Checked in the browser: nothing is sent.
        await expect(form.get_by_role("alert")).to_have_text("Input: this is not valid JSON.")
        await expect(form.get_by_label("Input (JSON)")).to_have_attribute("aria-invalid", "true")

        await form.get_by_label("Input (JSON)").fill('{"name": "Ada"}')
        await form.get_by_role("button", name="Start", exact=True).click()

        row = row_of(page, "greet-ada")
        await expect(row.locator(".badge")).to_have_text("completed")
        await expect(row.get_by_role("button", name="Start again greet-ada")).to_be_visible()
        await check_accessibility(page, "the workflow list with the start form open")

        await row.get_by_role("link", name="greet-ada").click()
        await expect(page.get_by_role("tab", name="Overview")).to_have_attribute("aria-selected", "true")
        await expect(page.get_by_role("tabpanel")).to_contain_text("HELLO, ADA!")
        await page.get_by_role("tab", name="Events").click()
        await expect(page).to_have_url(re.compile(r"tab=events"))
        await expect(page.get_by_text("WorkflowCompleted")).to_be_visible()
        await page.reload()
        await expect(page.get_by_role("tab", name="Events")).to_have_attribute("aria-selected", "true")
        await screenshot_both_themes(page, "workflow-events", ready=page.get_by_text("WorkflowCompleted"))


async def test_a_reviewer_approves_a_step_from_the_steps_tab(
    signed_in_page: Page, stack: Stack, worker_for: WorkerFor, namespace: str
) -> None:
    page = signed_in_page
    await start(
        stack,
        namespace,
        "release-1",
        "approval_pipeline",
        APPROVALS,
        {"change": "docs", "review_timeout": 600},
    )
    # Opened before any worker ran it: no pipeline yet, so no Steps tab.
    await page.goto(f"/workflows/release-1?namespace={namespace}")
    await expect(page.get_by_role("tab", name="Overview")).to_have_attribute("aria-selected", "true")
    await expect(page.get_by_role("tab", name="Steps")).to_have_count(0)
    async with worker_for("approval_pipeline", namespace):
        # The run records its pipeline: the Steps tab comes, live, and is shown (the visitor chose
        # no tab).
        steps = page.get_by_role("list", name="Steps")
        approve = page.get_by_role("button", name="approve review")
        await expect(approve).to_be_visible()
        await expect(page.get_by_role("tab", name="Steps")).to_have_attribute("aria-selected", "true")
        await expect(page.get_by_role("timer")).to_contain_text("expires in")
        await expect(steps.locator("[data-step=prepare] .wf-step-status")).to_have_text("done")
        await check_accessibility(page, "the Steps tab of a pipeline in review")

        await approve.click()

        await expect(steps.locator("[data-step=deploy] .wf-step-status")).to_have_text("done")
        await expect(page.locator("#run-summary .badge")).to_have_text("completed")
        await expect(approve).to_have_count(0)
        # A click on a step shows only its log entries.
        log = page.locator(".wf-step-log-entries > li:visible")
        await expect(log.filter(has_text="chose approve")).to_have_count(1)
        await steps.get_by_role("button", name=re.compile("^prepare")).click()
        await expect(log).to_have_count(2)
        await expect(log.filter(has_text="chose approve")).to_have_count(0)
        await screenshot_both_themes(
            page, "workflow-steps", ready=steps.locator("[data-step=deploy] .wf-step-done")
        )


async def test_signal_cancel_and_terminate_from_the_list(
    signed_in_page: Page, stack: Stack, worker_for: WorkerFor, namespace: str
) -> None:
    page = signed_in_page
    async with worker_for("approval_pipeline", namespace):
        for workflow_id in ("to-signal", "to-cancel", "to-terminate"):
            await start(
                stack, namespace, workflow_id, "approval_pipeline", APPROVALS, {"change": workflow_id}
            )
        await wait_for_review(stack, namespace, "to-signal")
        await page.goto(f"/workflows?namespace={namespace}")

        await page.get_by_role("button", name="Signal to-signal").click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_label("Signal name").fill("step_action")
        await dialog.get_by_label("Payload (JSON)").fill(
            '{"step": "review", "action": "reject", "user": "ada"}'
        )
        await check_accessibility(page, "the signal dialog")
        await dialog.get_by_role("button", name="Send signal").click()
        await expect(row_of(page, "to-signal").locator(".badge")).to_have_text("completed")

        await page.get_by_role("button", name="Cancel to-cancel").click()
        await page.get_by_role("dialog").get_by_label("Reason").fill("not needed")
        await page.get_by_role("dialog").get_by_role("button", name="Request cancellation").click()
        await expect(row_of(page, "to-cancel").locator(".badge")).to_have_text("cancelled")

        await page.get_by_role("button", name="Terminate to-terminate").click()
        await page.get_by_role("dialog").get_by_role("button", name="Terminate").click()
        await expect(row_of(page, "to-terminate").locator(".badge")).to_have_text("terminated")

        # The filters live in the URL: a reload shows the same view.
        await page.get_by_label("Status").select_option("TERMINATED")
        await expect(page).to_have_url(re.compile(r"status=TERMINATED"))
        await expect(page.get_by_role("link", name="to-cancel")).to_have_count(0)
        await page.reload()
        await expect(page.get_by_role("link", name="to-terminate")).to_be_visible()
        await expect(page.get_by_role("link", name="to-cancel")).to_have_count(0)
        await screenshot_both_themes(page, "workflows", ready=page.get_by_role("link", name="to-terminate"))


async def test_a_schedule_is_created_paused_resumed_and_deleted(signed_in_page: Page, namespace: str) -> None:
    page = signed_in_page
    await page.goto(f"/schedules?namespace={namespace}")
    await expect(page.get_by_text(f"No schedules in {namespace}.")).to_be_visible()

    await page.get_by_role("button", name="New schedule").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Schedule id").fill("nightly")
    await dialog.get_by_label("Workflow type").fill("hello")
    await dialog.get_by_label("Task queue").fill(HELLO)
    await dialog.get_by_label("When").fill("0 3 * * *")
    await dialog.get_by_label("Input (JSON)").fill('{"name": "night"}')
    await dialog.get_by_role("button", name="Create").click()

    row = page.get_by_role("row").filter(has=page.get_by_role("button", name="Details of nightly"))
    await expect(row.locator(".badge")).to_have_text("active")
    await row.get_by_role("button", name="Pause nightly").click()
    await page.get_by_role("dialog").get_by_label("Note").fill("maintenance")
    await page.get_by_role("dialog").get_by_role("button", name="Pause").click()
    await expect(row.locator(".badge")).to_have_text("paused")

    await row.get_by_role("button", name="Details of nightly").click()
    detail = page.locator("#schedule-detail")
    await expect(detail).to_contain_text("maintenance")
    await expect(detail).to_contain_text("None while it is paused.")
    await row.get_by_role("button", name="Resume nightly").click()
    await page.get_by_role("dialog").get_by_role("button", name="Resume").click()
    await expect(row.locator(".badge")).to_have_text("active")
    await expect(detail.locator(".wf-upcoming li")).to_have_count(5)
    await check_accessibility(page, "a schedule's details")
    await screenshot_both_themes(page, "schedules", ready=detail.locator(".wf-upcoming"))

    await row.get_by_role("button", name="Delete nightly").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("button", name="Details of nightly")).to_have_count(0)


async def test_the_workers_queues_namespaces_and_settings_pages(
    signed_in_page: Page, stack: Stack, worker_for: WorkerFor, namespace: str
) -> None:
    page = signed_in_page
    # Work waiting on a queue no worker serves: the queues page warns of it.
    await start(stack, namespace, "stranded", "hello", "nobody-serves", {"name": "x"})
    async with worker_for("hello", namespace):
        await page.goto(f"/workers?namespace={namespace}")
        show_runs = page.get_by_role("button", name=re.compile("^Runs of "))
        await expect(page.locator(".badge-healthy")).to_have_text("healthy")
        await show_runs.click()
        await expect(show_runs).to_have_attribute("aria-expanded", "true")
        await expect(page.get_by_text("It holds no workflow task.")).to_be_visible()
        await check_accessibility(page, "the workers page with a row expanded")
        await screenshot_both_themes(page, "workers", ready=page.locator(".badge-healthy"))

        await page.goto(f"/queues?namespace={namespace}")
        await expect(page.get_by_role("status").filter(has_text="no worker serves")).to_contain_text(
            "nobody-serves"
        )
        await expect(page.get_by_role("row").filter(has_text=HELLO)).to_contain_text("ok")
        await screenshot_both_themes(page, "queues", ready=page.get_by_text("backlog, no worker"))
        await page.get_by_role("link", name="Runs on nobody-serves").click()
        await expect(page).to_have_url(re.compile(r"/workflows\?namespace=.*task_queue=nobody-serves"))
        await expect(page.get_by_role("link", name="stranded")).to_be_visible()
        await expect(page.get_by_label("Queue", exact=True)).to_have_value("nobody-serves")

    await page.goto("/namespaces")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=namespace, exact=True))
    await expect(row).to_contain_text("running 1")
    await expect(
        page.get_by_role("row")
        .filter(has=page.get_by_role("link", name="main", exact=True))
        .get_by_role("button", name="Delete main")
    ).to_have_count(0)
    await page.get_by_role("button", name="New namespace").click()
    await page.get_by_role("dialog").get_by_label("Name").fill(f"{namespace}-b")
    await page.get_by_role("dialog").get_by_label("Retention (days)").fill("7")
    await page.get_by_role("dialog").get_by_role("button", name="Create").click()
    created = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"{namespace}-b", exact=True))
    await expect(created).to_contain_text("7 days")
    await screenshot_both_themes(page, "namespaces", ready=created)
    await created.get_by_role("button", name=f"Delete {namespace}-b").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(created).to_have_count(0)

    await page.goto("/settings")
    await expect(page.get_by_role("row").filter(has_text="workflow")).to_be_visible()
    await expect(page.get_by_role("link", name="Event catalogue")).to_have_attribute(
        "href", "/api/v1/events/asyncapi.json"
    )
    await screenshot_both_themes(page, "settings", ready=page.get_by_role("row").filter(has_text="workflow"))
