"""The vault console in a real browser: a fresh vault initialized, unsealed and sealed from the
seal page (with seal events from elsewhere shown live), KV secrets written, versioned, compared,
deleted and restored, transit keys tried in the playground, and audit sinks added and removed.
Every page passes the accessibility check and is captured in both themes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from assay.local import LocalPlatform, PlatformOptions, free_port
from assay_common.internal_auth import InternalTokenMinter, load_private_key
from tests.auth_api import AUTH_TEST_ENV, PASSWORD, AuthApi, email
from tests.conftest import NatsServer, Stack, run_subjects
from tests.dashboard.browser.conftest import (
    SCREENSHOTS,
    THEMES,
    check_accessibility,
    missing_asset,
    policy_violation,
    screenshot_both_themes,
)


@dataclass(frozen=True)
class FreshPlatform:
    """A platform of its own whose vault nobody initialized, and an administrator of it."""

    platform: LocalPlatform
    admin_email: str
    #: The bootstrap administrator's API key, to act on the vault from outside the browser.
    api: httpx.AsyncClient


@pytest.fixture
async def fresh_platform(
    nats_server: NatsServer, unique: str, tmp_path: Path
) -> AsyncIterator[FreshPlatform]:
    isolated = NatsServer(nats_server.url, run_subjects(unique))
    platform = LocalPlatform(
        PlatformOptions(
            data_dir=tmp_path,
            port=free_port(),
            nats_url=nats_server.url,
            env={**isolated.env(), **AUTH_TEST_ENV},
            restart_crashed=False,
            initialize_vault=False,
        )
    )
    await platform.start()
    try:
        assert platform.bootstrap is not None
        auth = AuthApi(
            platform.service_url("auth"),
            InternalTokenMinter(load_private_key((tmp_path / "internal.key").read_bytes())),
        )
        address = email(unique, "keeper")
        await auth.create_user(address, PASSWORD, is_admin=True, email_verified=True)
        await auth.client.aclose()
        headers = {"authorization": f"Bearer {platform.bootstrap.api_key}"}
        async with httpx.AsyncClient(base_url=platform.url, headers=headers, timeout=30) as api:
            yield FreshPlatform(platform, address, api)
    finally:
        await platform.stop()
        await isolated.delete_streams()


@pytest.fixture
async def fresh_page(browser: Browser, fresh_platform: FreshPlatform) -> AsyncIterator[Page]:
    """A browser signed in to the fresh platform as its administrator; fails as `page` does on an
    uncaught error, a blocked resource or a missing asset."""
    context = await browser.new_context(
        base_url=fresh_platform.platform.url, viewport={"width": 1280, "height": 800}
    )
    opened = await context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"uncaught error: {error}"))
    opened.on("console", lambda message: problems.extend(policy_violation(message)))
    opened.on("response", lambda response: problems.extend(missing_asset(response)))
    await opened.goto("/login")
    await opened.get_by_label("Email").fill(fresh_platform.admin_email)
    await opened.get_by_label("Password", exact=True).fill(PASSWORD)
    await opened.get_by_role("button", name="Sign in", exact=True).click()
    await expect(opened).to_have_url(f"{fresh_platform.platform.url}/")
    yield opened
    await context.close()
    assert not problems, "the page misbehaved:\n" + "\n".join(problems)


async def screenshot_as_is(page: Page, name: str) -> None:
    """Both themes without reloading, for a state a reload would lose (the key shares shown once):
    the theme is chosen with the console's switch."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for theme in THEMES:
        await page.locator("#theme-choice").select_option(theme)
        await expect(page.locator("html")).to_have_attribute("data-theme", theme)
        await check_accessibility(page, f"{name} in the {theme} theme")
        await page.screenshot(path=SCREENSHOTS / f"{name}-{theme}.png", full_page=True)


async def unseal_from_outside(api: httpx.AsyncClient, keys: list[str]) -> None:
    for key in keys:
        response = await api.post("/api/v1/vault/sys/unseal", json={"key": key})
        assert response.status_code == 200, response.text


async def test_a_fresh_vault_is_initialized_unsealed_and_holds_versions(
    fresh_page: Page, fresh_platform: FreshPlatform
) -> None:
    page = fresh_page
    await page.goto("/vault/seal")
    state = page.locator("#seal-status .badge")
    await expect(state).to_have_text("uninitialized")
    await screenshot_both_themes(
        page, "vault-seal-uninitialized", ready=page.get_by_role("button", name="Initialize the vault")
    )

    await page.get_by_label("Key shares").fill("3")
    await page.get_by_label("Threshold").fill("2")
    await page.get_by_role("button", name="Initialize the vault").click()
    await expect(page.get_by_text("You will not see these again.")).to_be_visible()
    shares = page.locator(".vault-shares code")
    await expect(shares).to_have_count(3)
    keys = await shares.all_inner_texts()
    await expect(state).to_have_text("sealed")
    await screenshot_as_is(page, "vault-seal-shares")

    await page.get_by_role("button", name="I have stored every share").click()
    await page.get_by_role("dialog").get_by_role("button", name="Hide them").click()
    await expect(page.get_by_text("You will not see these again.")).to_be_hidden()
    await page.get_by_label("Key share").fill(keys[0])
    await page.get_by_role("button", name="Submit share").click()
    progress = page.locator("#unseal-progress-text")
    await expect(progress).to_have_text("1 of 2 key shares given")
    await screenshot_both_themes(page, "vault-seal-unsealing", ready=progress)
    await expect(progress).to_have_text("1 of 2 key shares given")  # the replica kept the attempt
    await page.get_by_label("Key share").fill(keys[2])
    await page.get_by_role("button", name="Submit share").click()
    await expect(state).to_have_text("unsealed")
    await screenshot_both_themes(
        page, "vault-seal-unsealed", ready=page.get_by_role("button", name="Seal the vault")
    )

    # Sealed from the console, unsealed from elsewhere: the page follows the vault's events.
    await expect(page.locator("#connection-label")).to_have_text("Live")
    await page.get_by_role("button", name="Seal the vault").click()
    await page.get_by_role("dialog").get_by_role("button", name="Seal", exact=True).click()
    await expect(state).to_have_text("sealed")
    await unseal_from_outside(fresh_platform.api, keys[:2])
    await expect(state).to_have_text("unsealed")
    sealed = await fresh_platform.api.post("/api/v1/vault/sys/seal")
    assert sealed.status_code == 204, sealed.text
    await expect(state).to_have_text("sealed")
    await unseal_from_outside(fresh_platform.api, keys[1:])
    await expect(state).to_have_text("unsealed")

    # A KV mount enabled from the console, a secret written twice, its first version read back.
    await page.goto("/vault/kv")
    await page.get_by_role("button", name="Enable a mount").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Path").fill("secret")
    await dialog.get_by_role("button", name="Enable").click()
    await expect(page.get_by_text("No secrets in this mount yet.")).to_be_visible()
    await page.get_by_role("button", name="New secret").click()
    await page.get_by_role("dialog").get_by_label("Path").fill("app/db")
    await page.get_by_role("dialog").get_by_role("button", name="Continue").click()
    editor = page.get_by_role("form", name="New version of app/db")
    await editor.get_by_label("Key 1", exact=True).fill("user")
    await editor.get_by_label("Value 1", exact=True).fill("ann")
    await editor.get_by_role("button", name="Add a row").click()
    await editor.locator(".vault-row").nth(1).locator("input").nth(0).fill("password")
    await editor.locator(".vault-row").nth(1).locator("input").nth(1).fill("first-secret")
    await editor.get_by_role("button", name="Save the first version").click()
    values = page.locator("#page-root table").first
    await expect(values.locator("caption")).to_have_text("Version 1, the current one")
    await expect(values.get_by_text("first-secret")).to_have_count(0)  # masked

    await page.get_by_role("tab", name="New version").click()
    editor = page.get_by_role("form", name="New version of app/db")
    await editor.locator('input[value="first-secret"]').fill("second-secret")
    await editor.get_by_role("button", name="Save a new version").click()
    await expect(values.locator("caption")).to_have_text("Version 2, the current one")

    await page.get_by_label("Version", exact=True).select_option("1")
    await expect(values.locator("caption")).to_have_text("Version 1")
    await expect(page).to_have_url(re.compile(r"[?&]version=1"))
    await page.get_by_role("button", name="Reveal all").click()
    await expect(values.get_by_text("first-secret")).to_be_visible()
    await expect(values.get_by_text("ann")).to_be_visible()

    # The address keeps the mount, the secret and the version.
    await page.reload()
    await expect(page.locator("#page-root table caption").first).to_have_text("Version 1")
    await expect(page.locator("#breadcrumbs")).to_contain_text("app/")


@pytest.fixture
async def kv_mount(stack: Stack, unique: str) -> AsyncIterator[str]:
    mount = f"kv-{unique}"
    enabled = await stack.client.post("/api/v1/vault/mounts", json={"path": mount, "type": "kv"})
    assert enabled.status_code == 201, enabled.text
    for value in ({"user": "ann", "password": "one"}, {"user": "ann", "password": "two", "port": "5432"}):
        written = await stack.client.put(f"/api/v1/vault/kv/{mount}/secrets/team/db", json={"data": value})
        assert written.status_code == 200, written.text
    yield mount
    await stack.client.delete(f"/api/v1/vault/mounts/{mount}")


async def test_versions_are_compared_deleted_and_restored(signed_in_page: Page, kv_mount: str) -> None:
    page = signed_in_page
    await page.goto(f"/vault/kv?mount={kv_mount}")
    await screenshot_both_themes(page, "vault-kv-folder", ready=page.get_by_role("link", name="team/"))
    await page.get_by_role("link", name="team/").click()
    # Exactly: the mount's own link (in the breadcrumbs) may hold "db" in its random name.
    await page.get_by_role("link", name="db", exact=True).click()
    await expect(page).to_have_url(re.compile(r"path=team%2Fdb"))
    values = page.locator("#page-root table").first
    await expect(values.locator("caption")).to_have_text("Version 2, the current one")
    await screenshot_both_themes(page, "vault-kv-secret", ready=values)

    await page.get_by_role("tab", name="Compare").click()
    await page.get_by_role("button", name="Compare", exact=True).click()
    changes = page.locator("#page-root table").last
    await expect(changes.get_by_role("row", name=re.compile(r"^port added"))).to_be_visible()
    await expect(changes.get_by_role("row", name=re.compile(r"^password changed"))).to_be_visible()
    await expect(changes.get_by_text("two")).to_have_count(0)  # masked until revealed
    await (
        changes.get_by_role("row", name=re.compile(r"^password changed"))
        .get_by_role("button", name="Reveal")
        .last.click()
    )
    await expect(changes.get_by_text("two")).to_be_visible()
    await check_accessibility(page, "the comparison of two versions")

    await page.get_by_role("tab", name=re.compile(r"^Versions")).click()
    first = page.get_by_role("row", name=re.compile(r"^1 "))
    await first.get_by_role("button", name="Delete").click()
    await expect(first.locator(".badge")).to_have_text("deleted")
    await check_accessibility(page, "the versions of a secret")
    await first.get_by_role("button", name="Undelete").click()
    await expect(first.locator(".badge")).to_have_text("active")
    await first.get_by_role("button", name="View").click()
    await expect(values.locator("caption")).to_have_text("Version 1")

    await page.get_by_role("tab", name="Metadata").click()
    await page.get_by_role("button", name="Edit metadata").click()
    await page.get_by_role("dialog").get_by_label("Custom metadata").fill('{"owner": "payments"}')
    await page.get_by_role("dialog").get_by_role("button", name="Save").click()
    await expect(page.get_by_role("row", name="owner payments")).to_be_visible()


@pytest.fixture
async def transit_mount(stack: Stack, unique: str) -> AsyncIterator[str]:
    mount = f"transit-{unique}"
    enabled = await stack.client.post("/api/v1/vault/mounts", json={"path": mount, "type": "transit"})
    assert enabled.status_code == 201, enabled.text
    yield mount
    await stack.client.delete(f"/api/v1/vault/mounts/{mount}")


async def test_a_transit_key_is_made_rotated_and_tried_in_the_playground(
    signed_in_page: Page, transit_mount: str, stack: Stack
) -> None:
    page = signed_in_page
    await page.goto(f"/vault/transit?mount={transit_mount}")
    await expect(page.get_by_text("No keys in this mount yet.")).to_be_visible()
    await page.get_by_role("button", name="New key").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Name").fill("orders")
    await dialog.get_by_label("Type").select_option("chacha20-poly1305")
    await dialog.get_by_role("button", name="Create").click()
    await expect(page.locator("#key-title")).to_have_text("orders")
    await page.get_by_role("button", name="Rotate").click()
    await expect(page.locator(".stat", has_text="Latest version")).to_contain_text("2")

    await page.get_by_label("Plaintext").fill("card 4111 — ünïcode")
    await page.get_by_role("button", name="Encrypt", exact=True).click()
    await expect(page.locator("#encrypt-result code")).to_have_text(re.compile(r"^vault:v2:"))
    await page.get_by_role("button", name="Decrypt", exact=True).click()
    await expect(page.locator("#decrypt-result pre")).to_have_text("card 4111 — ünïcode")
    # Rotated elsewhere, the key is shown again by the event; its playground keeps its results.
    rotated = await stack.client.post(f"/api/v1/vault/transit/{transit_mount}/keys/orders/rotate")
    assert rotated.status_code == 200, rotated.text
    await expect(page.locator(".stat", has_text="Latest version")).to_contain_text("3")
    await expect(page.locator("#decrypt-result pre")).to_have_text("card 4111 — ünïcode")
    await check_accessibility(page, "the transit playground")
    await screenshot_both_themes(page, "vault-transit", ready=page.get_by_role("form", name="Encrypt"))

    await page.get_by_role("button", name="Edit configuration").click()
    await page.get_by_role("dialog").get_by_label("Deletion allowed").check()
    await page.get_by_role("dialog").get_by_role("button", name="Save").click()
    await page.get_by_role("button", name="Delete", exact=True).click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page.get_by_text("No keys in this mount yet.")).to_be_visible()


async def test_an_audit_sink_is_added_and_deleted(signed_in_page: Page, unique: str) -> None:
    page = signed_in_page
    await page.goto("/vault/audit")
    await page.get_by_role("button", name="Add a sink").click()
    await page.get_by_label("Path", exact=True).fill(f"file-{unique}")
    await page.get_by_label("File path").fill("discard")
    await page.get_by_label("Record types").fill("assay.vault.*")
    await check_accessibility(page, "the form of a new audit sink")
    await page.get_by_role("button", name="Add the sink").click()
    row = page.get_by_role("row", name=re.compile(f"^file-{unique} "))
    await expect(row).to_contain_text("file_path=discard")
    await expect(row).to_contain_text("assay.vault.*")
    await screenshot_both_themes(page, "vault-audit", ready=row)

    await row.get_by_role("button", name=f"Delete file-{unique}").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(row).to_have_count(0)
