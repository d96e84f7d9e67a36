"""The console's live stream survives a lost connection: after the network comes back, the events
that happened meanwhile appear, each once, without reloading the page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, Request, expect

from tests.conftest import Stack
from tests.dashboard.browser.conftest import Account, sign_in
from tests.dashboard.browser.relay import TcpRelay

STREAM = "/api/v1/events/stream"


@pytest.fixture
async def relay(stack: Stack) -> AsyncIterator[TcpRelay]:
    port = int(stack.url.rsplit(":", 1)[1])
    opened = TcpRelay(port)
    await opened.start()
    yield opened
    await opened.stop()


@pytest.fixture
async def relayed_page(browser: Browser, relay: TcpRelay, admin_account: Account) -> AsyncIterator[Page]:
    """A signed-in page that reaches the gateway through `relay`."""
    context = await browser.new_context(base_url=relay.url, viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto("/login")
    await sign_in(page, admin_account)
    await expect(page).to_have_url(f"{relay.url}/")
    yield page
    await context.close()
    assert not errors, errors


async def resumes_with_a_cursor(request: Request) -> bool:
    """Whether `request` opens the event stream after an event it names."""
    headers = await request.all_headers()
    return "last-event-id" in headers or "last_event_id=" in request.url


async def test_events_during_a_lost_connection_appear_after_it_returns(
    relayed_page: Page, relay: TcpRelay, stack: Stack, unique: str
) -> None:
    page = relayed_page
    indicator = page.locator("#connection")
    events = page.locator("#events")
    await expect(indicator).to_have_attribute("data-state", "live")
    before = f"{unique}-before"
    assert (await stack.client.post("/api/v1/namespaces", json={"name": before})).status_code == 201
    await expect(events.get_by_text(before, exact=True)).to_have_count(1)
    reopened: list[Request] = []
    page.on("request", lambda request: reopened.extend([request] if STREAM in request.url else []))

    await relay.cut()
    await expect(indicator).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    meanwhile = [f"{unique}-during-{n}" for n in range(3)]
    for name in meanwhile:
        assert (await stack.client.post("/api/v1/namespaces", json={"name": name})).status_code == 201
    await relay.resume()

    await expect(indicator).to_have_attribute("data-state", "live", timeout=30_000)
    for name in meanwhile:
        await expect(events.get_by_text(name, exact=True)).to_have_count(1)
    await expect(events.get_by_text(before, exact=True)).to_have_count(1)  # not delivered twice
    assert reopened and all([await resumes_with_a_cursor(r) for r in reopened]), (
        "the stream was opened again without the last event's id"
    )
    # Still the same page: nothing was reloaded to get there.
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1


async def test_a_page_that_saw_no_event_yet_misses_nothing_either(
    relayed_page: Page, relay: TcpRelay, stack: Stack, unique: str
) -> None:
    page = relayed_page
    indicator = page.locator("#connection")
    await expect(indicator).to_have_attribute("data-state", "live")

    await relay.cut()
    await expect(indicator).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    meanwhile = f"{unique}-first"
    assert (await stack.client.post("/api/v1/namespaces", json={"name": meanwhile})).status_code == 201
    await relay.resume()

    # The stream told the browser where it began, so it resumes from there.
    await expect(page.locator("#events").get_by_text(meanwhile, exact=True)).to_have_count(1, timeout=30_000)
