"""Sealing against a real database, on SQLite and Postgres: init, unseal, seal, rotation, and
two replicas (two `Sealing`s over one database) that learn of each other's seal."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import orjson
import pytest
import sqlalchemy as sa

from assay_common.db import Database
from assay_common.errors import Sealed
from assay_common.events.outbox import Outbox
from assay_common.events.subjects import Subjects
from assay_vault.app import MIGRATIONS
from assay_vault.domain import shamir
from assay_vault.domain.ciphers import place
from assay_vault.domain.keyring import Keyring
from assay_vault.domain.sealing import AlreadyInitialized, NotInitialized, Sealing, UnsealFailed
from assay_vault.store import tables
from tests.common.conftest import database_for


@pytest.fixture
async def vault_db(database_url: str, unique: str) -> AsyncIterator[Database]:
    database = database_for(database_url, unique)
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


def replica(db: Database, name: str) -> Sealing:
    """One replica of the vault: its own keyring (memory) over the shared database."""
    return Sealing(db, Outbox("vault", tables.outbox, Subjects()), Keyring(), replica=name)


async def events(db: Database) -> list[tuple[str, dict[str, object]]]:
    async with db.read() as conn:
        bodies = (await conn.execute(sa.select(tables.outbox.c.body).order_by(tables.outbox.c.id))).scalars()
        return [(event["type"], event["data"]) for event in map(orjson.loads, bodies)]


async def stored_bytes(db: Database) -> bytes:
    """Every byte value the vault's seal tables hold."""
    async with db.read() as conn:
        rows = [
            *(await conn.execute(sa.select(tables.seal_config))),
            *(await conn.execute(sa.select(tables.kek_versions))),
        ]
    return b"".join(value for row in rows for value in row if isinstance(value, bytes))


async def test_init_answers_shares_once_stores_nothing_that_rebuilds_the_root_key_and_stays_sealed(
    vault_db: Database,
) -> None:
    vault = replica(vault_db, "a")
    assert (await vault.status()).state == "uninitialized"

    shares = await vault.initialize(5, 3, "user:admin")

    status = await vault.status()
    assert (status.state, status.secret_shares, status.secret_threshold) == ("sealed", 5, 3)
    root = shamir.combine(shares[:3])
    stored = await stored_bytes(vault_db)
    assert root not in stored and root[:16] not in stored and root[16:] not in stored
    assert not any(share[1:17] in stored for share in shares)
    with pytest.raises(AlreadyInitialized):
        await replica(vault_db, "b").initialize(1, 1, "user:admin")
    assert await events(vault_db) == [
        (
            "assay.vault.initialized",
            {"secret_shares": 5, "secret_threshold": 3, "initialized_by": "user:admin"},
        )
    ]


async def test_unsealing_needs_the_threshold_of_shares_and_each_counts_once(vault_db: Database) -> None:
    vault = replica(vault_db, "a")
    with pytest.raises(NotInitialized):
        await vault.submit(os.urandom(33))
    shares = await vault.initialize(5, 3, "user:admin")

    first = await vault.submit(shares[4])
    again = await vault.submit(shares[4])
    second = await vault.submit(shares[0])

    assert (first.progress, again.progress, second.progress) == (1, 1, 2)
    assert first.nonce and first.nonce == second.nonce
    assert second.sealed
    with pytest.raises(Sealed):
        vault.keyring.seal(b"secret", b"here")
    unsealed = await vault.submit(shares[2])
    assert (unsealed.state, unsealed.progress, unsealed.nonce, unsealed.kek_version) == ("unsealed", 0, "", 1)
    assert vault.keyring.open(vault.keyring.seal(b"secret", b"here"), b"here") == b"secret"
    assert (await vault.submit(shares[1])).state == "unsealed"  # more shares change nothing


async def test_shares_of_another_root_key_fail_and_start_the_attempt_again(vault_db: Database) -> None:
    vault = replica(vault_db, "a")
    shares = await vault.initialize(3, 2, "user:admin")
    foreign = shamir.split(os.urandom(32), 3, 2)

    await vault.submit(shares[0])
    with pytest.raises(UnsealFailed):
        await vault.submit(foreign[1])

    assert (await vault.status()).progress == 0
    await vault.submit(shares[0])
    with pytest.raises(UnsealFailed):
        await vault.submit(foreign[0])  # the same index as the share held
    assert (await vault.status()).progress == 0
    await vault.submit(shares[0])
    reset = await vault.submit(None, reset=True)
    assert (reset.progress, reset.nonce, reset.sealed) == (0, "", True)


async def test_a_restarted_replica_is_sealed_and_opens_what_was_sealed_before(vault_db: Database) -> None:
    before = replica(vault_db, "a")
    shares = await before.initialize(3, 2, "user:admin")
    for share in shares[:2]:
        await before.submit(share)
    where = place("kv", "secret", "app", 1)
    record = before.keyring.seal(b"secret", where)

    after = replica(vault_db, "a")  # a new process: nothing in memory

    assert (await after.status()).state == "sealed"
    for share in shares[1:]:
        await after.submit(share)
    assert after.keyring.open(record, where) == b"secret"


async def test_sealing_one_replica_seals_the_others_when_they_catch_up(vault_db: Database) -> None:
    one, other = replica(vault_db, "a"), replica(vault_db, "b")
    shares = await one.initialize(1, 1, "user:admin")
    await one.submit(shares[0])
    await other.submit(shares[0])

    await one.seal("user:admin")
    assert one.keyring.sealed and not other.keyring.sealed

    await other.catch_up()  # what the `sealed` event, or the periodic check, makes it do
    assert other.keyring.sealed
    await one.submit(shares[0])  # unsealed again in the new epoch: a stale check changes nothing
    await one.catch_up()
    assert not one.keyring.sealed
    types = [event_type for event_type, _ in await events(vault_db)]
    assert types == [
        "assay.vault.initialized",
        "assay.vault.unsealed",
        "assay.vault.unsealed",
        "assay.vault.sealed",
        "assay.vault.unsealed",
    ]


async def test_rotation_makes_kek_versions_that_other_replicas_load(vault_db: Database) -> None:
    one, other = replica(vault_db, "a"), replica(vault_db, "b")
    with pytest.raises(Sealed):
        await one.rotate("user:admin")
    shares = await one.initialize(1, 1, "user:admin")
    await one.submit(shares[0])
    await other.submit(shares[0])
    old = one.keyring.seal(b"old", b"here")

    assert await one.rotate("user:admin") == 2
    assert await one.rotate("user:admin") == 3
    new = one.keyring.seal(b"new", b"here")
    await other.catch_up()

    assert other.keyring.kek_version == 3
    assert [other.keyring.open(record, b"here") for record in (old, new)] == [b"old", b"new"]
    assert ("assay.vault.kek_rotated", {"version": 3, "rotated_by": "user:admin"}) in await events(vault_db)
