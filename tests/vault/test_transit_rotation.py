"""Automatic rotation of transit keys, on each backend: a key is rotated once its period has passed
since its latest version, once however often or from however many replicas it is looked at."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from assay_common.db import utcnow
from assay_common.events.outbox import Outbox
from assay_common.events.subjects import Subjects
from assay_vault.domain.transit import KeyConfigChanges, KeyOptions, Transit
from assay_vault.store import tables
from tests.vault.transit_support import MOUNT, transit_store

HOUR = 3600


async def test_a_key_is_rotated_once_its_period_has_passed(database_url: str, unique: str) -> None:
    async with transit_store(database_url, unique) as store:
        await store.transit.create_key(MOUNT, "hourly", KeyOptions(auto_rotate_period=HOUR))
        await store.transit.create_key(MOUNT, "daily", KeyOptions(auto_rotate_period=24 * HOUR))
        await store.transit.create_key(MOUNT, "never", KeyOptions())
        now = utcnow()

        assert await store.transit.rotate_due(now + timedelta(minutes=59)) == []
        assert await store.transit.rotate_due(now + timedelta(hours=2)) == [(MOUNT, "hourly")]
        # The new version was made just now: the next rotation is an hour after it.
        assert await store.transit.rotate_due(now + timedelta(minutes=59)) == []
        assert (await store.transit.read_key(MOUNT, "hourly")).latest_version == 2
        assert (await store.transit.read_key(MOUNT, "daily")).latest_version == 1

        await store.transit.configure_key(MOUNT, "hourly", KeyConfigChanges(auto_rotate_period=0))
        assert await store.transit.rotate_due(now + timedelta(days=2)) == [(MOUNT, "daily")]


async def test_replicas_looking_at_once_rotate_a_key_once(database_url: str, unique: str) -> None:
    async with transit_store(database_url, unique) as store:
        await store.transit.create_key(MOUNT, "shared", KeyOptions(auto_rotate_period=HOUR))
        replicas = [
            Transit(store.db, Outbox("vault", tables.outbox, Subjects()), store.keyring) for _ in range(3)
        ]
        later = utcnow() + timedelta(hours=1, seconds=1)

        rotated = await asyncio.gather(*(replica.rotate_due(later) for replica in replicas))

        assert sorted(len(found) for found in rotated) == [0, 0, 1]
        assert (await store.transit.read_key(MOUNT, "shared")).latest_version == 2
        # A replica that looks only after the rotation, as of the same time, finds nothing due:
        # the new version was made as of that time.
        assert await replicas[0].rotate_due(later) == []
        assert (await store.transit.read_key(MOUNT, "shared")).latest_version == 2
