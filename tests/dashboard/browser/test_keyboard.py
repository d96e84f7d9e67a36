"""The console without a mouse: the skip link, dialogs (focus inside, Escape closes, focus comes
back) and tabs (arrow keys)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.conftest import Stack


async def active_id(page: Page) -> str:
    found: str = await page.evaluate("document.activeElement.id || document.activeElement.className")
    return found


async def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(signed_in_page: Page) -> None:
    page = signed_in_page
    await page.goto("/namespaces")
    await expect(page.locator("#page-root table")).to_be_visible()

    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")
    assert await active_id(page) == "main"


async def test_a_dialog_takes_the_focus_and_gives_it_back(signed_in_page: Page, unique: str) -> None:
    page = signed_in_page
    await page.goto("/namespaces")
    opener = page.get_by_role("button", name="New namespace")
    await opener.focus()
    await page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Name")).to_be_focused()
    await page.keyboard.type(unique)
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(opener).to_be_focused()
    # Escape cancelled: nothing was made.
    await expect(page.locator("#page-root").get_by_text(unique, exact=True)).to_have_count(0)


async def test_arrow_keys_move_between_a_workflows_tabs(
    signed_in_page: Page, stack: Stack, namespace: str
) -> None:
    started = await stack.client.post(
        "/api/v1/workflows",
        json={"namespace": namespace, "workflow_id": "keys", "workflow_type": "nothing", "input": 1},
    )
    assert started.status_code == 201, started.text
    page = signed_in_page
    await page.goto(f"/workflows/keys?namespace={namespace}")

    tabs = page.get_by_role("tab")
    first = tabs.first
    await expect(first).to_have_attribute("aria-selected", "true")
    await first.focus()
    await page.keyboard.press("ArrowRight")
    second = tabs.nth(1)
    await expect(second).to_be_focused()
    await expect(second).to_have_attribute("aria-selected", "true")
    await expect(first).to_have_attribute("aria-selected", "false")
    await page.keyboard.press("ArrowLeft")
    await expect(first).to_be_focused()
