"""Rewrapping: after a KEK rotation every stored record is sealed again under the newest KEK, so
that an old KEK protects nothing any more once the walk is done.

The walk runs in the background on the replica that rotated, and again on every replica after
each unseal (a walk cut short by a seal or a crash is finished then; when nothing is behind, a
walk only reads). It goes through each column of sealed records in primary-key order, a page at a
time, and seals again (`Keyring.reseal`: a fresh DEK under the current KEK) each record whose
header names an older KEK. A record is replaced only if it is still the one read: a write or
destroy made meanwhile wins, and two replicas walking at once do no harm. A record that fails its
integrity check is left as it is and counted (`assay_vault_rewrap_integrity_failures_total`); its
reads fail closed as before.

Old KEK versions stay in the keyring (a record restored from a backup may still name one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter

from assay_common.db import Database
from assay_common.errors import Sealed
from assay_vault.domain.audit_sinks import secret_place
from assay_vault.domain.ciphers import place
from assay_vault.domain.keyring import Keyring, RecordIntegrityFailed, record_kek_version
from assay_vault.store import sealed_records as store
from assay_vault.store.tables import audit_sinks, kv_versions, transit_key_versions

log = logging.getLogger("assay.vault.rewrap")

REWRAPPED = Counter(
    "assay_vault_records_rewrapped_total", "Records sealed again under a newer KEK", ["column"]
)
INTEGRITY_FAILURES = Counter(
    "assay_vault_rewrap_integrity_failures_total",
    "Records a rewrap walk found altered or moved (left as they are)",
    ["column"],
)


@dataclass(frozen=True)
class SealedRecords:
    """A column of records sealed by the keyring, and the place (AAD) each row's record is bound
    to, from the row's primary key."""

    table: sa.Table
    column: str
    place_of: Callable[[tuple[Any, ...]], bytes]

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


#: KV v2 secret versions (`kv.KeyValue`: `place("kv", mount, path, version)`).
KV_VERSIONS = SealedRecords(kv_versions, "ciphertext", lambda key: place("kv", *key))
#: The material of each transit key version (`transit.Transit`: `place("transit", mount, name, version)`).
TRANSIT_KEY_VERSIONS = SealedRecords(transit_key_versions, "sealed_key", lambda key: place("transit", *key))
#: The HMAC keys of webhook audit sinks (`audit_sinks.secret_place`).
AUDIT_SINK_SECRETS = SealedRecords(audit_sinks, "secret", lambda key: secret_place(*key))
#: Every column of sealed records.
SEALED_RECORDS: tuple[SealedRecords, ...] = (KV_VERSIONS, TRANSIT_KEY_VERSIONS, AUDIT_SINK_SECRETS)


@dataclass
class RewrapReport:
    kek_version: int
    #: Records sealed again, by column.
    rewrapped: dict[str, int] = field(default_factory=dict)
    #: Records that failed their integrity check, by column.
    integrity_failures: dict[str, int] = field(default_factory=dict)


class Rewrapper:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        records: Sequence[SealedRecords] = SEALED_RECORDS,
        page_size: int = 200,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.records = records
        self.page_size = page_size
        self._wanted = asyncio.Event()

    def request(self) -> None:
        """Ask for a walk (after an unseal or a rotation); requests made during one add one more."""
        self._wanted.set()

    async def run(self) -> None:
        """Walk whenever asked, until cancelled (a background loop)."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            if self.keyring.sealed:
                continue
            try:
                report = await self.rewrap_all()
            except Sealed:
                continue  # sealed during the walk: the next unseal asks again
            if any(report.rewrapped.values()) or any(report.integrity_failures.values()):
                log.info(
                    "rewrapped under KEK version %d: %s; integrity failures: %s",
                    report.kek_version,
                    report.rewrapped,
                    report.integrity_failures,
                )

    async def rewrap_all(self) -> RewrapReport:
        """Seal every record older than the current KEK again; `Sealed` while sealed."""
        target = self.keyring.kek_version
        if target is None:
            raise Sealed("the vault is sealed; unseal it with the unseal keys")
        report = RewrapReport(target)
        for records in self.records:
            rewrapped, failures = await self._rewrap_column(records, target)
            report.rewrapped[records.name] = rewrapped
            report.integrity_failures[records.name] = failures
        return report

    async def _rewrap_column(self, records: SealedRecords, target: int) -> tuple[int, int]:
        rewrapped = failures = 0
        after: tuple[Any, ...] | None = None
        while True:
            async with self.db.read() as conn:
                rows = await store.page(conn, records.table, records.column, after, self.page_size)
            if not rows:
                return rewrapped, failures
            after = rows[-1].key
            stale = [row for row in rows if (record_kek_version(row.ciphertext) or target) < target]
            if not stale:
                continue
            replaced = 0
            async with self.db.transaction() as tx:
                for row in stale:
                    try:
                        resealed = self.keyring.reseal(row.ciphertext, records.place_of(row.key))
                    except RecordIntegrityFailed:
                        failures += 1
                        INTEGRITY_FAILURES.labels(records.name).inc()
                        continue
                    replaced += await store.replace(tx.conn, records.table, records.column, row, resealed)
            rewrapped += replaced
            REWRAPPED.labels(records.name).inc(replaced)
