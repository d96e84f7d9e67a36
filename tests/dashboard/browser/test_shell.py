"""The console's pages in a real browser: they load, run their scripts under the CSP, pass the
accessibility check and are captured in both themes."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.conftest import Stack
from tests.dashboard.browser.conftest import Account, screenshot_both_themes, sign_in


async def test_the_status_page_shows_every_service(signed_in_page: Page) -> None:
    page = signed_in_page
    await page.goto("/")

    operational = page.get_by_role("heading", name="All services are operational")
    await expect(operational).to_be_visible()
    await expect(page.locator("#services .badge-ok").first).to_be_visible()
    await screenshot_both_themes(page, "status", ready=operational)


async def test_a_visitor_is_sent_to_the_sign_in_page_and_back(
    page: Page, stack: Stack, admin_account: Account
) -> None:
    await page.goto("/workflows")

    await expect(page).to_have_url(re.compile(r"/login\?return_to="))
    ready = page.locator("#login-fields:enabled")
    await expect(ready).to_be_visible()
    await screenshot_both_themes(page, "login", ready=ready)
    await sign_in(page, admin_account)
    await expect(page).to_have_url(f"{stack.url}/workflows")


async def test_the_set_password_page_asks_for_the_link_without_a_token(page: Page) -> None:
    await page.goto("/account/password")

    no_token = page.get_by_text("This link has no token.")
    await expect(no_token).to_be_visible()
    await expect(page.get_by_label("New password", exact=True)).to_be_disabled()
    await screenshot_both_themes(page, "account-password", ready=no_token)
