"""The workflow engine on a database of its own, for tests that drive the domain directly."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from assay_common.events.bus import EventBus
from assay_common.events.outbox import Outbox
from assay_common.events.subjects import Subjects
from assay_common.events.wakeups import Wakeups
from assay_workflow.app import MIGRATIONS
from assay_workflow.domain.engine import Engine
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import tables
from tests.common.conftest import database_for


@contextlib.asynccontextmanager
async def engine_on(
    database_url: str, unique: str, nats_url: str, settings: WorkflowSettings
) -> AsyncIterator[Engine]:
    """An engine with its own database, subjects and streams; no timekeeper runs unless the test
    runs one."""
    db = database_for(database_url, unique)
    await db.migrate(MIGRATIONS)
    subjects = Subjects(
        events_prefix=unique,
        audit_prefix=f"{unique}audit",
        events_stream=f"{unique.upper()}_EVENTS",
        audit_stream=f"{unique.upper()}_AUDIT",
    )
    bus = EventBus(nats_url, subjects, events_max_age=3600, audit_max_age=3600)
    await bus.connect()
    wakeups = Wakeups(bus, "workflow")
    await wakeups.start()
    try:
        yield Engine(db, Outbox("workflow", tables.outbox, subjects), wakeups, settings)
    finally:
        await wakeups.stop()
        await bus.close()
        await db.dispose()
