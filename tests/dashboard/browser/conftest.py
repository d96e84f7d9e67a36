"""Browser tests of the console: Debian's headless Chromium, driven by Playwright, against the
session's running stack (gateway, services, NATS) and, where a page needs one, a real worker.

Fixtures:
- `browser` (session): the headless Chromium at `/usr/bin/chromium` (`$ASSAY_TEST_CHROMIUM`).
- `page` / `context`: a fresh browser profile per test whose `base_url` is the stack's gateway, so
  `await page.goto("/")` opens the console. The test fails when the page throws an uncaught error,
  the browser blocks something under the Content Security Policy, or a script, style sheet, image
  or font it refers to fails to load.
- `admin_account`: a new administrator with a password (`Account`: email, password, user_id).
- `signed_in_page`: `page`, signed in as `admin_account` through the sign-in page `/login`; it
  ends on the overview `/` and the session cookies are in its context.
- `await sign_in(page, account)`: fills in and sends the form of the sign-in page `page` shows.
- `namespace`: a fresh namespace of the stack.
- `worker_for`: `async with worker_for("approval_pipeline", namespace) as worker:` runs the
  example's worker (`python -m examples.approval_pipeline.worker`) as its own process against the
  stack, in that namespace, and waits until it has registered; it stops when the block ends. Its
  log is `worker-<example>-<namespace>.log` among the stack's logs.

Helpers, called by the tests:
- `await check_accessibility(page, name)`: axe-core over the page as it is now; fails on any
  violation of impact serious or critical, naming the rules and the elements.
- `await screenshot_both_themes(page, name, ready=None)`: in the light then the dark theme, reload
  the page, wait until the locator `ready` (when given: what shows the page has loaded its data)
  is visible, check its accessibility and save a full-page screenshot as `<name>-<theme>.png` under
  `SCREENSHOTS` (`$ASSAY_TEST_ARTIFACTS/screenshots`, else `test-artifacts/screenshots`). The reload
  loses state a script built; for such a state call `check_accessibility` (and `page.screenshot`)
  directly.

The tests run against the SQLite stack only: the pages do not depend on the backend, and
`./run test` runs stack tests in both of its passes.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Response,
    async_playwright,
    expect,
)

from assay.client import API_KEY_ENV
from assay.local.platform import ManagedProcess
from tests.auth_api import PASSWORD, AuthApi, email
from tests.conftest import TEST_DB, Stack
from tests.dashboard.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.sdk_workflow.conftest import namespace
from tests.support import eventually

__all__ = ["namespace"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("ASSAY_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
#: The console keeps the chosen theme in localStorage under this key ("light", "dark" or "auto").
THEME_KEY = "assay-theme"
Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")
BLOCKING_IMPACTS = ("serious", "critical")
ASSET_TYPES = ("script", "stylesheet", "image", "font")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside the SQLite stack the browser tests are deselected, so `./run test` runs them once."""
    if TEST_DB == "sqlite":
        return
    deselected = [item for item in items if item.path.is_relative_to(HERE)]
    config.hook.pytest_deselected(items=deselected)
    items[:] = [item for item in items if item not in deselected]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        yield await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@pytest.fixture
async def context(browser: Browser, stack: Stack) -> AsyncIterator[BrowserContext]:
    opened = await browser.new_context(base_url=stack.url, viewport={"width": 1280, "height": 800})
    yield opened
    await opened.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    opened = await context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"uncaught error: {error}"))
    opened.on("console", lambda message: problems.extend(policy_violation(message)))
    opened.on("response", lambda response: problems.extend(missing_asset(response)))
    yield opened
    assert not problems, "the page misbehaved:\n" + "\n".join(problems)


def policy_violation(message: ConsoleMessage) -> list[str]:
    """The console message, when it reports something the Content Security Policy blocked."""
    if message.type == "error" and "Content Security Policy" in message.text:
        return [f"{message.location.get('url', '?')}: {message.text}"]
    return []


def missing_asset(response: Response) -> list[str]:
    """The response, when it fails a script, style sheet, image or font the page refers to."""
    if response.status >= 400 and response.request.resource_type in ASSET_TYPES:
        return [f"{response.request.resource_type} {response.url} answered {response.status}"]
    return []


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    user_id: str


@pytest.fixture
async def admin_account(auth_api: AuthApi, unique: str) -> Account:
    address = email(unique, "admin")
    user = await auth_api.create_user(address, PASSWORD, is_admin=True, email_verified=True)
    return Account(address, PASSWORD, user["id"])


@pytest.fixture
async def signed_in_page(page: Page, admin_account: Account, stack: Stack) -> Page:
    """`page`, signed in on the sign-in page as a visitor would; it ends on the overview."""
    await page.goto("/login")
    await sign_in(page, admin_account)
    await expect(page).to_have_url(f"{stack.url}/")
    return page


async def sign_in(page: Page, account: Account) -> None:
    """Fill in and send the form of the sign-in page, which `page` shows."""
    await page.get_by_label("Email").fill(account.email)
    await page.get_by_label("Password", exact=True).fill(account.password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


class WorkerFor(Protocol):
    def __call__(
        self, example: str, namespace: str
    ) -> contextlib.AbstractAsyncContextManager[ManagedProcess]: ...


@pytest.fixture
def worker_for(stack: Stack) -> WorkerFor:
    @contextlib.asynccontextmanager
    async def running(example: str, namespace: str) -> AsyncIterator[ManagedProcess]:
        module = f"examples.{example}.worker"
        assert importlib.util.find_spec(module), f"no example worker {module}"
        label = f"worker-{example}-{namespace}"
        worker = ManagedProcess(
            label,
            [sys.executable, "-m", module],
            {
                "PYTHONUNBUFFERED": "1",
                "ASSAY_API_URL": stack.url,
                API_KEY_ENV: stack.admin_key,
                "ASSAY_NAMESPACE": namespace,
            },
            stack.platform.log_dir / f"{label}.log",
            ready_url=None,
        )
        await worker.spawn()
        try:

            async def registered() -> bool:
                assert worker.is_running, f"{label} exited:\n{worker.log_tail()}"
                found = await stack.client.get("/api/v1/workers", params={"namespace": namespace})
                assert found.status_code == 200, found.text
                return bool(found.json()["items"])

            await eventually(registered, within=30, what=f"{label} registering")
            yield worker
        finally:
            await worker.stop()

    return running


@functools.cache
def axe_script() -> str:
    assert AXE_SCRIPT.exists(), f"no {AXE_SCRIPT}: run `npm ci` in {HERE} (see docs/testing.md)"
    return AXE_SCRIPT.read_text()


async def check_accessibility(page: Page, name: str) -> None:
    """axe-core over the page as it is now; fails on violations of impact serious or critical."""
    # Evaluated through the DevTools protocol, the script is not subject to the page's CSP
    # (`default-src 'self'` would block it as an added <script>).
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(axe_script())
    results: dict[str, Any] = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        listed = (
            f"- {v['id']} ({v['impact']}): {v['help']}; "
            + ", ".join(" ".join(node["target"]) for node in v["nodes"])
            for v in blocking
        )
        pytest.fail(f"accessibility of {name} ({page.url}):\n" + "\n".join(listed))


async def use_theme(page: Page, theme: Theme) -> None:
    """Choose `theme` as a visitor would (it is stored in localStorage) and reload the page; the
    system preference matches it, so pages without a theme switch follow too."""
    await page.evaluate("([key, theme]) => localStorage.setItem(key, theme)", [THEME_KEY, theme])
    await page.emulate_media(color_scheme=theme)
    await page.reload()


async def screenshot_both_themes(page: Page, name: str, ready: Locator | None = None) -> list[Path]:
    """In each theme: reload, wait until `ready` (if given) is visible, check accessibility, save a
    full-page screenshot; returns the files."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for theme in THEMES:
        await use_theme(page, theme)
        if ready is not None:
            await expect(ready).to_be_visible()
        await check_accessibility(page, f"{name} in the {theme} theme")
        await page.evaluate("window.scrollTo(0, 0)")  # a reload keeps the scroll position
        path = SCREENSHOTS / f"{name}-{theme}.png"
        await page.screenshot(path=path, full_page=True)
        saved.append(path)
    return saved
