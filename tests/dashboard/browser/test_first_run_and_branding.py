"""A fresh install as compose or Kubernetes leave it (no administrator yet) with every
`ASSAY_WHITELABEL_*` variable set: the first-run page makes the first administrator, who lands in
a console that wears the branding, every value escaped, adds a passkey on the account page with
Chromium's virtual authenticator and signs in with it. The platform is reached as `localhost`,
the passkeys' relying party (WebAuthn takes no IP address as one). Its NATS server is its own, so
a test may purge its event stream: a page whose cursor the stream no longer holds reloads its
data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from playwright.async_api import Browser, Page, expect

from assay.local import LocalPlatform, PlatformOptions, free_port
from tests.auth_api import AUTH_TEST_ENV
from tests.dashboard.browser.conftest import check_accessibility, screenshot_both_themes
from tests.dashboard.browser.relay import TcpRelay

#: Every variable, with markup in the texts: it must show as text, never as markup.
BRANDING = {
    "ASSAY_WHITELABEL_NAME": "Acme <b>Ops</b>",
    "ASSAY_WHITELABEL_MARK": "A&O",
    "ASSAY_WHITELABEL_SUBTITLE": "Control <i>room</i>",
    "ASSAY_WHITELABEL_LOGO_URL": "/static/favicon.svg?brand=logo",
    "ASSAY_WHITELABEL_PAGE_TITLE": 'Acme "Ops" console',
    "ASSAY_WHITELABEL_PARENT_URL": "https://intranet.acme.example/",
    "ASSAY_WHITELABEL_PARENT_NAME": "Intranet <home>",
    "ASSAY_WHITELABEL_API_DOCS_URL": "/api/v1/docs?brand=acme",
    "ASSAY_WHITELABEL_CSS_URL": "/theme.css?brand=extra",
    "ASSAY_WHITELABEL_FAVICON_URL": "/static/favicon.svg?brand=icon",
    "ASSAY_WHITELABEL_DEFAULT_NAMESPACE": "operations",
    "ASSAY_WHITELABEL_DEFAULT_THEME": "dark",
    "ASSAY_WHITELABEL_ACCENT": "#1f6feb",
}
ADMIN_EMAIL = "first@acme.example"
ADMIN_PASSWORD = "a long phrase for the first administrator"


@pytest.fixture(scope="module")
async def fresh_platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalPlatform]:
    """A platform of its own (SQLite, its own NATS) that made no administrator."""
    port = free_port()
    passkeys = {
        "ASSAY_AUTH_WEBAUTHN_RP_ID": "localhost",
        "ASSAY_AUTH_WEBAUTHN_ORIGINS": f'["http://localhost:{port}"]',
    }
    options = PlatformOptions(
        data_dir=tmp_path_factory.mktemp("fresh"),
        port=port,
        env={**AUTH_TEST_ENV, **BRANDING, **passkeys},
        restart_crashed=False,
        make_admin=False,
    )
    platform = LocalPlatform(options)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


@pytest.fixture
async def fresh_page(browser: Browser, fresh_platform: LocalPlatform) -> AsyncIterator[Page]:
    base_url = fresh_platform.url.replace("127.0.0.1", "localhost")
    context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    await context.close()
    assert not errors, errors


@pytest.fixture
async def first_admin(fresh_platform: LocalPlatform) -> None:
    """The first administrator: made on the first-run page by the first test, or here through the
    same API when that test did not run first."""
    async with httpx.AsyncClient(base_url=fresh_platform.url) as anonymous:
        if (await anonymous.get("/api/v1/auth/setup")).json()["needed"]:
            body = {"email": ADMIN_EMAIL, "display_name": "First Admin", "password": ADMIN_PASSWORD}
            made = await anonymous.post("/api/v1/auth/setup", json=body)
            assert made.status_code == 201, made.text


async def sign_in_with_password(page: Page) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(ADMIN_EMAIL)
    await page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page).to_have_url(re.compile(r"localhost:\d+/$"))


async def test_the_first_administrator_is_made_on_the_first_run_page(
    fresh_page: Page, fresh_platform: LocalPlatform
) -> None:
    page = fresh_page
    await page.goto("/login")
    await expect(page.get_by_text("This platform has no users yet.")).to_be_visible()
    await page.get_by_role("link", name="Set it up").click()
    await expect(page).to_have_url(re.compile(r"/setup$"))

    form = page.locator("#setup-fields:enabled")
    await expect(form).to_be_visible()
    await screenshot_both_themes(page, "setup", ready=form)
    await page.get_by_label("Email").fill(ADMIN_EMAIL)
    await page.get_by_label("Name").fill("First Admin")
    await page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    await page.get_by_label("Repeat the password").fill("not the same phrase at all")
    await page.get_by_role("button", name="Create the administrator").click()
    await expect(page.locator("#setup-message")).to_contain_text("The two passwords differ")

    await page.get_by_label("Repeat the password").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Create the administrator").click()

    # Signed in as an administrator: the console with the administrators' pages.
    await expect(page).to_have_url(re.compile(r"localhost:\d+/$"))
    await expect(
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Users")
    ).to_be_visible()

    # Only once: the page now says so, and the API refuses a second first administrator.
    await page.goto("/setup")
    await expect(page.get_by_text("This platform is set up already.")).to_be_visible()
    async with httpx.AsyncClient(base_url=fresh_platform.url) as anonymous:
        second = {"email": "second@acme.example", "password": ADMIN_PASSWORD}
        answer = await anonymous.post("/api/v1/auth/setup", json=second)
    assert answer.status_code == 409, answer.text


@pytest.mark.usefixtures("first_admin")
async def test_every_branding_variable_shows_escaped(fresh_page: Page) -> None:
    page = fresh_page
    await sign_in_with_password(page)

    await expect(page).to_have_title(re.compile(r'· Acme "Ops" console$'))
    brand = page.locator(".topbar .brand")
    await expect(brand.locator(".brand-name")).to_have_text("Acme <b>Ops</b>")
    await expect(brand.locator(".brand-subtitle")).to_have_text("Control <i>room</i>")
    assert await page.locator("b, i").count() == 0, "branding text became markup"
    await expect(brand.locator("img.brand-logo")).to_have_attribute("src", "/static/favicon.svg?brand=logo")
    parent = page.get_by_role("link", name="Intranet <home>")
    await expect(parent).to_have_attribute("href", "https://intranet.acme.example/")
    await expect(page.get_by_role("link", name="API reference")).to_have_attribute(
        "href", "/api/v1/docs?brand=acme"
    )
    await expect(page.locator('link[rel="stylesheet"][href="/theme.css?brand=extra"]')).to_have_count(1)
    await expect(page.locator('link[rel="icon"]')).to_have_attribute("href", "/static/favicon.svg?brand=icon")
    await expect(page.locator("body")).to_have_attribute("data-default-namespace", "operations")
    # The default theme applies while the visitor has not chosen one; the accent reaches the tokens.
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    accent = await page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent')")
    assert accent.strip() == "#1f6feb"
    await check_accessibility(page, "the branded console")
    # The mark stands in for a logo on the sign-in card of the same platform.
    await page.context.clear_cookies()
    await page.goto("/login")
    await expect(page).to_have_title(re.compile(r'Acme "Ops" console$'))


@pytest.mark.usefixtures("first_admin")
async def test_the_theme_choice_is_remembered(fresh_page: Page) -> None:
    page = fresh_page
    await sign_in_with_password(page)
    theme = page.get_by_label("Theme")
    html = page.locator("html")
    await expect(theme).to_have_value("dark")  # nothing chosen yet: the branding's default
    await expect(html).to_have_attribute("data-theme", "dark")

    await theme.select_option("light")
    await expect(html).to_have_attribute("data-theme", "light")
    await page.reload()
    await expect(html).to_have_attribute("data-theme", "light")
    await expect(page.get_by_label("Theme")).to_have_value("light")

    # Auto follows the system, live.
    await page.get_by_label("Theme").select_option("auto")
    await expect(html).not_to_have_attribute("data-theme", re.compile(".*"))
    background = "getComputedStyle(document.body).backgroundColor"
    await page.emulate_media(color_scheme="light")
    light = await page.evaluate(background)
    await page.emulate_media(color_scheme="dark")
    assert await page.evaluate(background) != light
    await page.reload()
    await expect(page.get_by_label("Theme")).to_have_value("auto")


@pytest.mark.usefixtures("first_admin")
async def test_a_passkey_added_on_the_account_page_signs_in(fresh_page: Page) -> None:
    page = fresh_page
    authenticator = await page.context.new_cdp_session(page)
    await authenticator.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    await authenticator.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    await sign_in_with_password(page)
    await page.goto("/account")
    await page.get_by_role("button", name="Add a passkey").click()
    await page.get_by_role("dialog").get_by_label("Name").fill("Build machine")
    await page.get_by_role("dialog").get_by_role("button", name="Continue").click()
    passkeys = page.locator("#passkeys")
    await expect(passkeys.get_by_text("Build machine")).to_be_visible()
    await screenshot_both_themes(page, "account", ready=passkeys.get_by_text("Build machine"))

    await page.locator(".account-menu summary").click()
    await page.locator("#sign-out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.goto("/workflows")
    await expect(page).to_have_url(re.compile(r"/login\?return_to="))
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await expect(page).to_have_url(re.compile(r"/workflows$"))
    await expect(page.locator("#account-name")).to_have_text("First Admin")


@pytest.mark.usefixtures("first_admin")
async def test_a_page_reloads_its_data_when_the_stream_lost_its_place(
    browser: Browser, fresh_platform: LocalPlatform
) -> None:
    port = int(fresh_platform.url.rsplit(":", 1)[1])
    relay = TcpRelay(port)
    await relay.start()
    context = await browser.new_context(base_url=relay.url.replace("127.0.0.1", "localhost"))
    try:
        page = await context.new_page()
        await sign_in_with_password(page)
        await page.goto("/namespaces")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        listed = page.locator("#page-root")
        async with httpx.AsyncClient(base_url=fresh_platform.url) as api:
            credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            signed_in = await api.post("/api/v1/auth/login", json=credentials)
            assert signed_in.status_code == 200, signed_in.text
            csrf = {"x-csrf-token": api.cookies["assay_csrf"]}
            # An event the page sees live: it has a cursor from here on.
            seen = await api.post("/api/v1/namespaces", json={"name": "seen-live"}, headers=csrf)
            assert seen.status_code == 201, seen.text
            await expect(listed.get_by_text("seen-live", exact=True)).to_be_visible()

            await relay.cut()
            made = await api.post("/api/v1/namespaces", json={"name": "made-while-away"}, headers=csrf)
            assert made.status_code == 201, made.text
        # The stream forgets everything, that event included: the page's cursor is gone.
        bus = await nats.connect(fresh_platform.nats_url)
        try:
            await bus.jetstream().purge_stream("ASSAY_EVENTS")
        finally:
            await bus.close()
        await relay.resume()

        await expect(listed.get_by_text("made-while-away", exact=True)).to_be_visible(timeout=30_000)
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1
    finally:
        await context.close()
        await relay.stop()
