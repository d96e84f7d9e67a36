"""Shared fixtures: real NATS, real databases, and one running platform per test session.

Environment (set by `./run test`, one pass per combination):
- `ASSAY_TEST_DB`: `sqlite` (default) or `postgres`: the backend of the shared stack.
- `ASSAY_TEST_NATS`: `embedded` (default: a nats-server started for the session) or `system`
  (the server at `ASSAY_TEST_NATS_URL`, isolated by run-specific stream names and subject prefixes).
- `ASSAY_TEST_POSTGRES_URL`: an administrative URL; each run creates and drops its own database.
Store-level tests take the `database_url` fixture, which runs them on both backends in every pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from assay.client import API_KEY_ENV
from assay.local import LocalPlatform, PlatformOptions, free_port
from assay.local.platform import start_nats_server
from assay_common.events.subjects import Subjects
from assay_common.internal_auth import InternalTokenMinter, load_private_key
from tests.auth_api import AUTH_TEST_ENV, AuthApi

TEST_DB = os.environ.get("ASSAY_TEST_DB", "sqlite")
TEST_NATS = os.environ.get("ASSAY_TEST_NATS", "embedded")
POSTGRES_ADMIN_URL = os.environ.get(
    "ASSAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SYSTEM_NATS_URL = os.environ.get("ASSAY_TEST_NATS_URL", "nats://127.0.0.1:4222")
RUN_ID = secrets.token_hex(4)


@dataclass(frozen=True)
class NatsServer:
    url: str
    subjects: Subjects

    def env(self) -> dict[str, str]:
        """Settings that point a service at this server and this run's streams and subjects."""
        return {
            "ASSAY_NATS_URL": self.url,
            "ASSAY_SUBJECT_PREFIX": self.subjects.events_prefix,
            "ASSAY_AUDIT_SUBJECT_PREFIX": self.subjects.audit_prefix,
            "ASSAY_EVENTS_STREAM": self.subjects.events_stream,
            "ASSAY_AUDIT_STREAM": self.subjects.audit_stream,
        }

    async def delete_streams(self) -> None:
        """Remove the streams of these subjects from the server (they may not exist)."""
        import nats

        connection = await nats.connect(self.url)
        try:
            for stream in (self.subjects.events_stream, self.subjects.audit_stream):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await connection.jetstream().delete_stream(stream)
        finally:
            await connection.close()


def run_subjects(label: str = "") -> Subjects:
    tag = f"{RUN_ID}{label}"
    return Subjects(
        events_prefix=f"t{tag}",
        audit_prefix=f"t{tag}audit",
        events_stream=f"T{tag.upper()}_EVENTS",
        audit_stream=f"T{tag.upper()}_AUDIT",
    )


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture(scope="session")
async def nats_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NatsServer]:
    if TEST_NATS == "system":
        yield NatsServer(SYSTEM_NATS_URL, run_subjects())
        return
    directory = tmp_path_factory.mktemp("nats")
    deadline = asyncio.get_running_loop().time() + 20
    server, url = await start_nats_server(directory, directory / "nats.log", deadline)
    yield NatsServer(url, run_subjects())
    await server.stop()


async def create_postgres_database(label: str) -> str:
    """A fresh database for this run; returns its URL."""
    name = f"assay_test_{RUN_ID}_{label}"
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def drop_postgres_database(url: str) -> None:
    name = url.rpartition("/")[2]
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A fresh, empty database on each backend, for store-level tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'store.db'}"
        return
    url = await create_postgres_database("store")
    yield url
    await drop_postgres_database(url)


@dataclass
class Stack:
    """The running platform and what tests need to talk to it."""

    platform: LocalPlatform
    client: httpx.AsyncClient
    nats: NatsServer
    database_url: str | None
    #: The bootstrap administrator's API key (`client` sends it with every request).
    admin_key: str

    @property
    def url(self) -> str:
        return self.platform.url

    @property
    def subjects(self) -> Subjects:
        return self.nats.subjects


@pytest.fixture(scope="session")
async def stack(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One platform for the whole session; tests isolate themselves by namespace."""
    database_url = await create_postgres_database("stack") if TEST_DB == "postgres" else None
    options = PlatformOptions(
        data_dir=tmp_path_factory.mktemp("stack"),
        port=free_port(),
        postgres_url=database_url,
        nats_url=nats_server.url,
        env={**nats_server.env(), **AUTH_TEST_ENV, "ASSAY_LOG_JSON": "true"},
        restart_crashed=False,
    )
    platform = LocalPlatform(options)
    await platform.start()
    assert platform.bootstrap is not None, "a fresh platform makes its first administrator"
    admin_key = platform.bootstrap.api_key
    # Every client of the SDK and every `assay` command the tests start act as the administrator
    # (tests of authentication itself make clients without credentials).
    previous_key = os.environ.get(API_KEY_ENV)
    os.environ[API_KEY_ENV] = admin_key
    client = httpx.AsyncClient(
        base_url=platform.url, timeout=30, headers={"authorization": f"Bearer {admin_key}"}
    )
    try:
        yield Stack(platform, client, nats_server, database_url, admin_key)
    finally:
        if previous_key is None:
            os.environ.pop(API_KEY_ENV, None)
        else:
            os.environ[API_KEY_ENV] = previous_key
        await client.aclose()
        await platform.stop()
        _keep_logs(platform.log_dir)
        if TEST_NATS == "system":  # an embedded server goes away with its streams
            await nats_server.delete_streams()
        if database_url:
            await drop_postgres_database(database_url)


def _keep_logs(log_dir: Path) -> None:
    """Copy service logs where CI keeps artifacts, when it asks for them."""
    target = os.environ.get("ASSAY_TEST_ARTIFACTS")
    if not target or not log_dir.exists():
        return
    destination = Path(target) / f"logs-{TEST_DB}-{TEST_NATS}-{RUN_ID}"
    destination.mkdir(parents=True, exist_ok=True)
    for log_file in log_dir.glob("*.log"):
        (destination / log_file.name).write_bytes(log_file.read_bytes())


@pytest.fixture
def unique() -> str:
    """A short name no other test in this session uses (for namespaces and the like)."""
    return f"t{secrets.token_hex(4)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the second pass (`ASSAY_TEST_PASS=stack`) only tests of the running stack run again:
    the rest does not depend on the stack's backend and already ran in the first pass. Browser
    tests (the `browser` fixture) run here too, those on a platform of their own included: the
    first pass leaves them out (tests/dashboard/browser/conftest.py)."""
    if os.environ.get("ASSAY_TEST_PASS") != "stack":
        return
    runs_a_platform = {"stack", "browser"}
    selected = [item for item in items if runs_a_platform & set(getattr(item, "fixturenames", ()))]
    config.hook.pytest_deselected(items=[item for item in items if item not in selected])
    items[:] = selected


@pytest.fixture(scope="session")
async def auth_api(stack: Stack) -> AsyncIterator[AuthApi]:
    key = load_private_key((stack.platform.data_dir / "internal.key").read_bytes())
    api = AuthApi(stack.platform.service_url("auth"), InternalTokenMinter(key))
    yield api
    await api.client.aclose()
