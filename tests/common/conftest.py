"""Fixtures for store-level tests of libs/common: a migrated database on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from assay_common.db import Database
from assay_common.events.bus import EventBus
from assay_common.events.subjects import Subjects
from assay_workflow.app import MIGRATIONS
from tests.conftest import NatsServer

#: The workflow service's real migrations give these tests an outbox and processed-events table.
WORKFLOW_MIGRATIONS: Path = MIGRATIONS


def database_for(database_url: str, name: str) -> Database:
    """A database of its own for one test: a schema on Postgres, a file on SQLite."""
    if database_url.startswith("sqlite"):
        directory = Path(database_url.removeprefix("sqlite:///")).parent
        return Database(f"sqlite:///{directory / name}.db")
    return Database(database_url, schema=name)


@pytest.fixture
async def db(database_url: str, unique: str) -> AsyncIterator[Database]:
    database = database_for(database_url, unique)
    await database.migrate(WORKFLOW_MIGRATIONS)
    yield database
    await database.dispose()


@pytest.fixture
async def bus(nats_server: NatsServer, unique: str) -> AsyncIterator[EventBus]:
    """A connected bus with streams of this test's own (removed afterwards)."""
    subjects = Subjects(
        events_prefix=f"{unique}",
        audit_prefix=f"{unique}audit",
        events_stream=f"{unique.upper()}_EVENTS",
        audit_stream=f"{unique.upper()}_AUDIT",
    )
    event_bus = EventBus(nats_server.url, subjects, events_max_age=3600, audit_max_age=3600)
    await event_bus.connect()
    await event_bus.ensure_streams()
    yield event_bus
    for stream in (subjects.events_stream, subjects.audit_stream):
        await event_bus.js.delete_stream(stream)
    await event_bus.close()
