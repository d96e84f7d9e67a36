"""What the KV tests share: a migrated vault store with a real, unsealed keyring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from assay_common.db import Database
from assay_common.events.outbox import Outbox
from assay_common.events.subjects import Subjects
from assay_vault.app import MIGRATIONS
from assay_vault.domain.keyring import Keyring, new_key, wrap_kek
from assay_vault.domain.kv import KeyValue
from assay_vault.domain.kv_mounts import Mounts
from assay_vault.store import tables


def unsealed_keyring() -> Keyring:
    """A keyring as unsealing leaves it: a fresh root key and one KEK (the real AES-GCM-SIV)."""
    keyring = Keyring()
    root = new_key()
    keyring.install(root, {1: wrap_kek(root, 1, new_key())}, epoch=1)
    return keyring


@dataclass
class KvStore:
    db: Database
    keyring: Keyring
    mounts: Mounts
    kv: KeyValue


def database_for(database_url: str, name: str) -> Database:
    """A database of its own for one test: a schema on Postgres, a file on SQLite."""
    if database_url.startswith("sqlite"):
        directory = Path(database_url.removeprefix("sqlite:///")).parent
        return Database(f"sqlite:///{directory / name}.db")
    return Database(database_url, schema=name)


@asynccontextmanager
async def kv_store(database_url: str, name: str) -> AsyncIterator[KvStore]:
    db = database_for(database_url, name)
    await db.migrate(MIGRATIONS)
    keyring = unsealed_keyring()
    outbox = Outbox("vault", tables.outbox, Subjects())
    try:
        yield KvStore(db, keyring, Mounts(db, outbox, keyring), KeyValue(db, outbox, keyring))
    finally:
        keyring.wipe()
        await db.dispose()
