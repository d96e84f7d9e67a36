"""Fixtures for the auth service's tests: its domain on each backend with a clock the test moves,
and its HTTP API in the running stack, called directly with internal tokens for any principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from assay_auth.app import MIGRATIONS
from assay_auth.domain.identity import Identity
from assay_auth.settings import AuthSettings
from assay_auth.store import tables
from assay_common.db import Database, utcnow
from assay_common.events.envelope import CloudEvent
from assay_common.events.outbox import Outbox
from assay_common.events.subjects import Subjects
from tests.auth_api import RECOVERY_KEY
from tests.common.conftest import database_for


def settings(**overrides: Any) -> AuthSettings:
    """The auth settings of domain tests: cheap Argon2id, recovery on."""
    values: dict[str, Any] = {
        "password_hash_memory_kib": 8192,
        "password_hash_time_cost": 1,
        "password_hash_parallelism": 1,
        "password_recovery_key": RECOVERY_KEY,
        **overrides,
    }
    return AuthSettings(**values)


class ManualClock:
    """The domain's clock in tests: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def auth_db(database_url: str, unique: str) -> AsyncIterator[Database]:
    database = database_for(database_url, unique)
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_identity(db: Database, clock: ManualClock, **overrides: Any) -> Identity:
    return Identity(db, Outbox("auth", tables.outbox, Subjects()), settings(**overrides), clock)


@pytest.fixture
def identity(auth_db: Database, clock: ManualClock) -> Identity:
    return make_identity(auth_db, clock)


async def outbox_events(db: Database, name: str | None = None) -> list[tuple[str, CloudEvent]]:
    """The events a domain test's actions wrote to the outbox (nothing relays them): (NATS
    subject, event), oldest first, only those of type `assay.auth.<name>` when given."""
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(tables.outbox).order_by(tables.outbox.c.id))).all()
    found = [(row.subject, CloudEvent.from_json(row.body)) for row in rows]
    return [(s, e) for s, e in found if name is None or e.type == f"assay.auth.{name}"]
