"""Rewrapping after a KEK rotation, on each backend: every record is sealed again under the newest
KEK and still reads back; destroyed versions and altered records are left alone; a record changed
during the walk is not overwritten."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from assay_common.errors import Sealed
from assay_common.events.outbox import Outbox
from assay_common.events.subjects import Subjects
from assay_vault.domain.audit_sinks import AuditSinks, secret_place
from assay_vault.domain.keyring import record_kek_version
from assay_vault.domain.rewrap import AUDIT_SINK_SECRETS, KV_VERSIONS, TRANSIT_KEY_VERSIONS, Rewrapper
from assay_vault.domain.transit import DecryptItem, EncryptItem, KeyOptions
from assay_vault.store import sealed_records, tables
from assay_vault.store.tables import kv_versions, transit_key_versions
from tests.vault.kv_support import KvStore, kv_store
from tests.vault.transit_support import MOUNT, transit_store


@pytest.fixture
async def store(database_url: str, unique: str) -> AsyncIterator[KvStore]:
    async with kv_store(database_url, unique) as found:
        await found.mounts.enable("secret", "kv", {"version": "2"})
        yield found


def per_column(kv: int = 0, transit: int = 0, sinks: int = 0) -> dict[str, int]:
    """A report's counts by column of sealed records."""
    return {KV_VERSIONS.name: kv, TRANSIT_KEY_VERSIONS.name: transit, AUDIT_SINK_SECRETS.name: sinks}


def rotate(store: KvStore) -> int:
    version = (store.keyring.kek_version or 0) + 1
    store.keyring.add_kek(version, store.keyring.new_kek(version))
    return version


async def kek_versions_of_records(store: KvStore) -> dict[tuple[str, int], int | None]:
    async with store.db.read() as conn:
        rows = await conn.execute(
            sa.select(kv_versions.c.path, kv_versions.c.version, kv_versions.c.ciphertext).where(
                kv_versions.c.ciphertext.is_not(None)
            )
        )
        return {(row.path, row.version): record_kek_version(row.ciphertext) for row in rows}


async def test_every_record_is_sealed_again_under_the_newest_kek_and_reads_back(store: KvStore) -> None:
    for n in range(7):
        await store.kv.write("secret", f"app/{n}", {"n": n})
        await store.kv.write("secret", f"app/{n}", {"n": n, "again": True})
    await store.kv.destroy_versions("secret", "app/0", [1])
    assert set((await kek_versions_of_records(store)).values()) == {1}

    newest = rotate(store)
    report = await Rewrapper(store.db, store.keyring, page_size=3).rewrap_all()

    assert report.kek_version == newest
    assert report.rewrapped == {
        KV_VERSIONS.name: 13,
        TRANSIT_KEY_VERSIONS.name: 0,
        AUDIT_SINK_SECRETS.name: 0,
    }
    assert report.integrity_failures == {
        KV_VERSIONS.name: 0,
        TRANSIT_KEY_VERSIONS.name: 0,
        AUDIT_SINK_SECRETS.name: 0,
    }
    assert set((await kek_versions_of_records(store)).values()) == {newest}
    for n in range(7):
        assert (await store.kv.read("secret", f"app/{n}")).data == {"n": n, "again": True}
        if n:
            assert (await store.kv.read("secret", f"app/{n}", 1)).data == {"n": n}
    again = await Rewrapper(store.db, store.keyring).rewrap_all()
    assert again.rewrapped == per_column()


async def test_an_altered_record_is_counted_and_left_as_it_is(store: KvStore) -> None:
    await store.kv.write("secret", "a", {"v": "a"})
    await store.kv.write("secret", "b", {"v": "b"})
    async with store.db.transaction() as tx:
        moved = (
            await tx.conn.execute(sa.select(kv_versions.c.ciphertext).where(kv_versions.c.path == "a"))
        ).scalar_one()
        b = kv_versions.c.path == "b"
        await tx.conn.execute(sa.update(kv_versions).where(b).values(ciphertext=moved))
    rotate(store)

    report = await Rewrapper(store.db, store.keyring, [KV_VERSIONS]).rewrap_all()

    assert report.rewrapped == {KV_VERSIONS.name: 1}
    assert report.integrity_failures == {KV_VERSIONS.name: 1}
    async with store.db.read() as conn:
        left = (
            await conn.execute(sa.select(kv_versions.c.ciphertext).where(kv_versions.c.path == "b"))
        ).scalar_one()
    assert left == moved


async def test_a_record_changed_during_the_walk_is_not_overwritten(store: KvStore) -> None:
    await store.kv.write("secret", "a", {"v": 1})
    async with store.db.read() as conn:
        [read] = await sealed_records.page(conn, kv_versions, "ciphertext", None, 10)
    await store.kv.destroy_versions("secret", "a", [1])

    async with store.db.transaction() as tx:
        replaced = await sealed_records.replace(tx.conn, kv_versions, "ciphertext", read, b"resealed")

    assert not replaced
    async with store.db.read() as conn:
        assert await sealed_records.page(conn, kv_versions, "ciphertext", None, 10) == []


async def test_no_walk_while_sealed(store: KvStore) -> None:
    store.keyring.wipe()
    with pytest.raises(Sealed):
        await Rewrapper(store.db, store.keyring).rewrap_all()


async def test_transit_keys_are_sealed_again_and_still_decrypt(database_url: str, unique: str) -> None:
    async with transit_store(database_url, unique) as store:
        await store.transit.create_key(MOUNT, "orders", KeyOptions())
        await store.transit.rotate_key(MOUNT, "orders")
        before = (
            await store.transit.encrypt(MOUNT, "orders", [EncryptItem("aGVsbG8=", key_version=1)])
        ).only()
        version = (store.keyring.kek_version or 0) + 1
        store.keyring.add_kek(version, store.keyring.new_kek(version))

        report = await Rewrapper(store.db, store.keyring).rewrap_all()

        assert report.rewrapped == {
            KV_VERSIONS.name: 0,
            TRANSIT_KEY_VERSIONS.name: 2,
            AUDIT_SINK_SECRETS.name: 0,
        }
        async with store.db.read() as conn:
            sealed = (await conn.execute(sa.select(transit_key_versions.c.sealed_key))).scalars().all()
        assert [record_kek_version(key) for key in sealed] == [version, version]
        decrypted = await store.transit.decrypt(MOUNT, "orders", [DecryptItem(before.ciphertext)])
        assert decrypted.only().plaintext == "aGVsbG8="


async def test_webhook_keys_are_sealed_again_and_still_open(store: KvStore) -> None:
    sinks = AuditSinks(store.db, Outbox("vault", tables.outbox, Subjects()), store.keyring)
    options = {"url": "https://audit.example/in", "hmac_key": "a webhook key of enough bytes"}
    await sinks.enable("hook", "webhook", options, actor="user:ann")
    version = rotate(store)

    report = await Rewrapper(store.db, store.keyring).rewrap_all()

    assert report.rewrapped[AUDIT_SINK_SECRETS.name] == 1
    async with store.db.read() as conn:
        sealed = (await conn.execute(sa.select(tables.audit_sinks.c.secret))).scalar_one()
    assert record_kek_version(sealed) == version
    assert store.keyring.open(sealed, secret_place("hook")) == b"a webhook key of enough bytes"
