"""What the transit tests share: a migrated vault store, a real unsealed keyring, a transit mount."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from assay_common.db import Database
from assay_common.events.outbox import Outbox
from assay_common.events.subjects import Subjects
from assay_vault.app import MIGRATIONS
from assay_vault.domain.keyring import Keyring
from assay_vault.domain.kv import KeyValue
from assay_vault.domain.kv_mounts import Mounts
from assay_vault.domain.transit import Transit
from assay_vault.store import tables
from tests.vault.kv_support import database_for, unsealed_keyring

#: The transit mount every store has.
MOUNT = "transit"


@dataclass
class TransitStore:
    db: Database
    keyring: Keyring
    mounts: Mounts
    kv: KeyValue
    transit: Transit


@asynccontextmanager
async def transit_store(database_url: str, name: str) -> AsyncIterator[TransitStore]:
    """A store of its own for one test, with a transit engine mounted at `MOUNT`."""
    db = database_for(database_url, name)
    await db.migrate(MIGRATIONS)
    keyring = unsealed_keyring()
    outbox = Outbox("vault", tables.outbox, Subjects())
    mounts = Mounts(db, outbox, keyring)
    await mounts.enable(MOUNT, "transit", {})
    try:
        yield TransitStore(db, keyring, mounts, KeyValue(db, outbox, keyring), Transit(db, outbox, keyring))
    finally:
        keyring.wipe()
        await db.dispose()
