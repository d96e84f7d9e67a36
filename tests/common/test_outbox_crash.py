"""Crash tests: the workflow service is SIGKILLed around the outbox, then restarted.

Each test follows the event of the namespace it creates: the service may publish others of its
own (the `main` namespace's announcement at its first start)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from nats.js.api import RawStreamMsg

from assay.local import LocalPlatform, PlatformOptions
from assay.local.platform import ManagedProcess
from assay_common.db import Database
from assay_common.events.bus import EventBus
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from assay_workflow.store.tables import outbox as outbox_table
from tests.common.conftest import database_for
from tests.support import eventually, stream_messages


@pytest.fixture
async def workflow_service(
    database_url: str, bus: EventBus, unique: str, tmp_path: Path
) -> AsyncIterator[LocalPlatform]:
    """The real workflow service alone, on this test's database and streams; not restarted on crash."""
    env = {
        "ASSAY_NATS_URL": bus.url,
        "ASSAY_SUBJECT_PREFIX": bus.subjects.events_prefix,
        "ASSAY_AUDIT_SUBJECT_PREFIX": bus.subjects.audit_prefix,
        "ASSAY_EVENTS_STREAM": bus.subjects.events_stream,
        "ASSAY_AUDIT_STREAM": bus.subjects.audit_stream,
        "ASSAY_WORKFLOW_DB_SCHEMA": unique,
    }
    if database_url.startswith("sqlite"):
        env["ASSAY_DATA_DIR"] = str(tmp_path)
        postgres_url = None
    else:
        postgres_url = database_url
    platform = LocalPlatform(
        PlatformOptions(
            data_dir=tmp_path,
            postgres_url=postgres_url,
            nats_url=bus.url,
            env=env,
            services=("workflow",),
            restart_crashed=False,
        )
    )
    yield platform
    await platform.stop()


def service_db(platform: LocalPlatform, database_url: str, unique: str) -> Database:
    if database_url.startswith("sqlite"):
        return Database(f"sqlite:///{platform.data_dir / 'workflow.db'}")
    return database_for(database_url, unique)


async def create_namespace(platform: LocalPlatform, name: str) -> httpx.Response:
    token = InternalTokenMinter(load_private_key((platform.data_dir / "internal.key").read_bytes()))
    async with httpx.AsyncClient(base_url=platform.service_url("workflow")) as client:
        return await client.post(
            "/api/v1/namespaces",
            json={"name": name},
            # As another Assay service: creating a namespace takes platform:assay#operate.
            headers={INTERNAL_TOKEN_HEADER: token.mint(Principal(id="tests", kind="service"), "workflow")},
        )


def created_subject(bus: EventBus, name: str) -> str:
    return bus.subjects.event("workflow", name, "namespace_created")


async def pending_outbox(db: Database, subject: str) -> list[str]:
    """The ids of the events on `subject` still in the outbox."""
    query = sa.select(outbox_table.c.id).where(outbox_table.c.subject == subject)
    async with db.read() as conn:
        return list((await conn.execute(query)).scalars())


async def published(bus: EventBus, subject: str) -> list[RawStreamMsg]:
    return [m for m in await stream_messages(bus) if m.subject == subject]


async def test_event_committed_before_a_crash_is_published_once_after_restart(
    workflow_service: LocalPlatform,
    bus: EventBus,
    database_url: str,
    unique: str,
) -> None:
    # Relay off: the process dies after the commit and before any publish.
    workflow_service.options.service_env["workflow"] = {"ASSAY_OUTBOX_RELAY_ENABLED": "false"}
    await workflow_service.start()
    assert (await create_namespace(workflow_service, "survivor")).status_code == 201
    await workflow_service.kill_service("workflow")
    subject = created_subject(bus, "survivor")
    db = service_db(workflow_service, database_url, unique)
    try:
        [event_id] = await pending_outbox(db, subject)
        assert await published(bus, subject) == []

        await workflow_service.start_service("workflow", {"ASSAY_OUTBOX_RELAY_ENABLED": "true"})
        await eventually(lambda: _published(bus, subject, 1), what="event published after restart")
        await eventually(lambda: _drained(db, subject), what="outbox drained")
    finally:
        await db.dispose()
    [message] = await published(bus, subject)
    assert message.headers is not None and message.headers["Nats-Msg-Id"] == event_id


async def test_crash_between_publish_and_cleanup_does_not_duplicate_the_event(
    workflow_service: LocalPlatform,
    bus: EventBus,
    database_url: str,
    unique: str,
) -> None:
    db = service_db(workflow_service, database_url, unique)
    # What the service publishes when it first starts goes out before the failpoint is armed.
    await workflow_service.start()
    await eventually(lambda: _drained(db), what="the first start's events published")
    await workflow_service.stop_service("workflow")
    await workflow_service.start_service("workflow", {"ASSAY_FAILPOINTS": "outbox.after_publish"})
    with suppress(httpx.TransportError):  # the failpoint may kill the process before it answers
        await create_namespace(workflow_service, "twice")
    process = workflow_service.processes["workflow"]
    await eventually(lambda: _exited(process), what="process killed at the failpoint")
    subject = created_subject(bus, "twice")
    try:
        [event_id] = await pending_outbox(db, subject)
        [first] = await published(bus, subject)
        assert first.headers is not None and first.headers["Nats-Msg-Id"] == event_id

        await workflow_service.start_service("workflow", {"ASSAY_FAILPOINTS": ""})
        await eventually(lambda: _drained(db, subject), what="outbox drained after restart")
    finally:
        await db.dispose()
    assert [m.headers and m.headers["Nats-Msg-Id"] for m in await published(bus, subject)] == [event_id]
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{workflow_service.service_url('workflow')}/metrics")).text
    assert 'assay_outbox_duplicates_total{service="workflow"} 1.0' in metrics


async def _published(bus: EventBus, subject: str, count: int) -> bool:
    return len(await published(bus, subject)) == count


async def _drained(db: Database, subject: str | None = None) -> bool:
    """No event on `subject` (on any subject, when none is given) is left in the outbox."""
    if subject is not None:
        return await pending_outbox(db, subject) == []
    async with db.read() as conn:
        return (await conn.scalar(sa.select(sa.func.count()).select_from(outbox_table))) == 0


async def _exited(process: ManagedProcess) -> bool:
    return not process.is_running
