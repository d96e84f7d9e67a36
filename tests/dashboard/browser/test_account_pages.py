"""The account pages a visitor meets outside the consoles — recovery, consent, signing out — and
the page a user without the permission sees: each works, escapes what it shows, passes the
accessibility check and is captured in both themes."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.async_api import Page, expect

from tests.auth_api import PASSWORD, AuthApi, email
from tests.conftest import Stack
from tests.dashboard.browser.conftest import Account, screenshot_both_themes, sign_in


async def test_recovery_asks_for_an_address_and_never_says_whether_it_exists(page: Page) -> None:
    await page.goto("/recovery")
    fields = page.locator("#recovery-fields:enabled")
    await expect(fields).to_be_visible()
    await screenshot_both_themes(page, "recovery", ready=fields)

    await page.get_by_label("Email").fill("nobody-here@example.com")
    await page.get_by_role("button", name="Send the link").click()
    await expect(page.locator("#recovery-message")).to_contain_text("If the address belongs to an account")


async def test_consent_shows_the_request_escaped(signed_in_page: Page) -> None:
    page = signed_in_page
    asked = {"challenge": "c-123", "client_name": "Reports <script>", "scope": "openid email"}
    await page.goto(f"/consent?{urlencode(asked)}")

    await expect(page.locator("#client-name")).to_have_text("Reports <script>")
    await expect(page.locator("#scopes li")).to_have_text(["openid", "email"])
    await expect(page.locator('input[name="challenge"]')).to_have_value("c-123")
    await screenshot_both_themes(page, "consent", ready=page.get_by_role("button", name="Allow"))


async def test_signing_out_ends_the_session(signed_in_page: Page, stack: Stack) -> None:
    page = signed_in_page
    await page.goto("/logout")
    sign_out = page.locator("#logout")
    await screenshot_both_themes(page, "logout", ready=sign_out)

    await sign_out.click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.goto("/workflows")
    await expect(page).to_have_url(re.compile(r"/login\?return_to="))
    whoami = await page.request.get("/api/v1/auth/whoami")
    assert whoami.status == 401


async def test_a_user_without_the_permission_gets_a_page_that_says_so(
    page: Page, auth_api: AuthApi, unique: str, stack: Stack
) -> None:
    address = email(unique, "viewer")
    user = await auth_api.create_user(address, PASSWORD, email_verified=True)
    await page.goto("/login")
    await sign_in(page, Account(address, PASSWORD, user["id"]))
    await expect(page).to_have_url(f"{stack.url}/")

    navigation = page.get_by_role("navigation", name="Console")
    await expect(navigation.get_by_role("link", name="Overview")).to_be_visible()
    await expect(navigation.get_by_role("link", name="Users")).to_have_count(0)
    response = await page.goto("/auth/users")
    assert response is not None and response.status == 403
    refusal = page.get_by_text("Your account does not have the permission this page needs")
    await expect(refusal).to_be_visible()
    await expect(page.locator("main code")).to_have_text("platform:assay#administer")
    await screenshot_both_themes(page, "forbidden", ready=refusal)
