"""The auth console in a real browser: users and their sessions, API keys, the permission schema
editor and evaluators, and every page's accessibility in both themes."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Locator, Page, expect

from tests.auth_api import PASSWORD, email
from tests.conftest import Stack
from tests.dashboard.browser.conftest import SCREENSHOTS, Account, check_accessibility, screenshot_both_themes
from tests.support import eventually

SCHEMA = """definition user {}

definition document {
    relation viewer: user
    permission view = viewer
}
"""
#: Line 4 allows a type the schema does not define.
BROKEN_SCHEMA = SCHEMA.replace("relation viewer: user", "relation viewer: usr")


def dialog(page: Page) -> Locator:
    return page.get_by_role("dialog")


async def test_a_new_users_session_is_revoked_and_stops_working(
    signed_in_page: Page, browser: Browser, stack: Stack, unique: str
) -> None:
    page = signed_in_page
    address = email(unique, "newcomer")
    await page.goto("/auth/users")
    await page.get_by_role("button", name="New user").click()
    await dialog(page).get_by_label("Email", exact=True).fill(address)
    await dialog(page).get_by_label("Display name").fill("New Comer")
    await dialog(page).get_by_label("Email verified").check()
    await dialog(page).get_by_label("Password", exact=True).fill(PASSWORD)
    await dialog(page).get_by_role("button", name="Create").click()
    created = page.get_by_role("link", name=address)
    await expect(created).to_be_visible()

    elsewhere = await browser.new_context(base_url=stack.url)
    try:
        signed_in = await elsewhere.request.post(
            "/api/v1/auth/login", data={"email": address, "password": PASSWORD}
        )
        assert signed_in.status == 200, await signed_in.text()
        assert (await elsewhere.request.get("/api/v1/auth/whoami")).status == 200

        await created.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"New Comer ({address})")
        sessions = page.locator("#sessions")
        await expect(sessions.get_by_role("row")).to_have_count(2)  # the header and the session
        await check_accessibility(page, "a user's page")
        await sessions.get_by_role("button", name="Revoke").click()
        await dialog(page).get_by_role("button", name="Revoke").click()
        await expect(sessions.get_by_text("No live sessions.")).to_be_visible()

        async def refused() -> bool:
            return (await elsewhere.request.get("/api/v1/auth/whoami")).status == 401

        await eventually(refused, what="the revoked session being refused")
    finally:
        await elsewhere.close()


async def test_the_sessions_page_revokes_a_session_of_a_chosen_user(
    signed_in_page: Page, admin_account: Account
) -> None:
    page = signed_in_page
    await page.goto(f"/auth/sessions?user={admin_account.email}")

    rows = page.locator("#page-root tbody tr")
    await expect(rows).to_have_count(1)
    await expect(page.locator("#chosen-user")).to_contain_text(admin_account.email)
    await expect(page.get_by_role("button", name="Revoke all for this user")).to_be_enabled()


async def test_an_api_key_is_created_for_a_user_and_its_secret_shown_once(signed_in_page: Page) -> None:
    page = signed_in_page
    await page.goto("/auth/api-keys")
    await expect(page.locator("#page-root").get_by_text("No API keys.")).to_be_visible()

    await page.get_by_role("button", name="New API key").click()
    await dialog(page).get_by_label("Name").fill("deploy bot")
    await dialog(page).get_by_label("Scopes").fill("namespace:main#view")
    await dialog(page).get_by_role("button", name="Create").click()

    secret = page.locator("#new-key-secret")
    await expect(secret.locator("code")).to_have_text(re.compile(r"^assay_"))
    await expect(secret.get_by_role("button", name="Copy")).to_be_visible()
    row = page.locator("#page-root tbody tr", has_text="deploy bot")
    await expect(row).to_contain_text("namespace:main#view")
    await check_accessibility(page, "a new API key")
    await row.get_by_role("button", name="Revoke").click()
    await dialog(page).get_by_role("button", name="Revoke").click()
    await expect(page.locator("#page-root").get_by_text("No API keys.")).to_be_visible()


async def test_the_schema_editor_explains_an_error_then_saves_and_the_evaluators_answer(
    signed_in_page: Page, unique: str
) -> None:
    page = signed_in_page
    await page.goto(f"/auth/permissions?store=docs-{unique}")
    editor = page.get_by_label("Schema text")
    await expect(page.locator("#schema-state")).to_contain_text("has no schema yet")

    await editor.fill(BROKEN_SCHEMA)
    await page.get_by_role("button", name="Save schema").click()
    problem = page.locator("#schema-problem")
    await expect(problem).to_contain_text("unknown type")
    await expect(problem).to_contain_text("At line 4")
    await expect(editor).to_have_attribute("aria-invalid", "true")
    await check_accessibility(page, "a refused schema")
    await problem.screenshot(path=SCREENSHOTS / "auth-permissions-refused-schema.png")

    await editor.fill(SCHEMA)
    await page.get_by_role("button", name="Save schema").click()
    await expect(page.locator("#schema-state")).to_contain_text("Saved. Version 1")
    await expect(problem).to_be_empty()

    await page.get_by_label("Relationship", exact=True).fill("document:readme#viewer@user:ann")
    await page.get_by_role("button", name="Write", exact=True).click()
    await expect(page.locator("#relationships tbody tr", has_text="user:ann")).to_be_visible()

    check = page.locator("#check-form")
    await check.get_by_label("Resource").fill("document:readme")
    await check.get_by_label("Permission").fill("view")
    await check.get_by_label("Subject").fill("user:ann")
    await check.get_by_role("button", name="Check").click()
    result = page.locator("#check-result")
    await expect(result).to_contain_text("allowed")
    await expect(result).to_contain_text("Answered at revision")
    await check.get_by_label("Subject").fill("user:bob")
    await check.get_by_role("button", name="Check").click()
    await expect(result).to_contain_text("denied")

    expand = page.locator("#expand-form")
    await expand.get_by_label("Resource").fill("document:readme")
    await expand.get_by_label("Permission or relation").fill("view")
    await expand.get_by_role("button", name="Expand").click()
    tree = page.locator("#expand-result .auth-tree")
    await expect(tree.locator(".auth-subject")).to_have_text(["user:ann"])
    await expect(tree).to_contain_text("document:readme#viewer")
    await check_accessibility(page, "the permission evaluators with answers")
    await page.locator(".auth-evaluators").screenshot(path=SCREENSHOTS / "auth-permissions-answers.png")


async def test_every_auth_page_is_accessible_in_both_themes(
    signed_in_page: Page, admin_account: Account
) -> None:
    page = signed_in_page
    filled = "#page-root table"
    pages = {
        "auth-users": ("/auth/users", filled),
        "auth-user": (f"/auth/users/{admin_account.user_id}", "#user-facts .card"),
        "auth-sessions": ("/auth/sessions", filled),
        "auth-api-keys": ("/auth/api-keys", filled),
        "auth-permissions": ("/auth/permissions", "#relationships table"),
        "auth-keys": ("/auth/keys", "#root-keys table"),
        "auth-audit": ("/auth/audit", filled),
    }
    for name, (path, ready) in pages.items():
        await page.goto(path)
        await screenshot_both_themes(page, name, ready=page.locator(ready))
        await expect(page.locator("#page-error")).to_be_hidden()
