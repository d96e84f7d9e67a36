"""Audit sinks in the store and the domain, on SQLite and Postgres: enabling checks each type's
options, keeps a webhook's HMAC key sealed, publishes its events; one replica at a time holds a
sink's delivery lease."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from assay_common.db import Database, utcnow
from assay_common.errors import Sealed
from assay_common.events.outbox import Outbox
from assay_common.events.subjects import Subjects
from assay_vault.app import MIGRATIONS
from assay_vault.domain.audit_sinks import (
    AuditSinkExists,
    AuditSinks,
    FileOptions,
    InvalidAuditSink,
    SyslogOptions,
    WebhookOptions,
    options_of,
    secret_place,
)
from assay_vault.domain.keyring import Keyring, RecordIntegrityFailed
from assay_vault.store import audit_sinks as store
from assay_vault.store import tables
from tests.vault.kv_support import database_for, unsealed_keyring

HMAC_KEY = "a webhook key of enough bytes"


@dataclass
class Sinks:
    db: Database
    keyring: Keyring
    domain: AuditSinks


@pytest.fixture
async def sinks(database_url: str, unique: str) -> AsyncIterator[Sinks]:
    db = database_for(database_url, f"audit_{unique}")
    await db.migrate(MIGRATIONS)
    keyring = unsealed_keyring()
    try:
        yield Sinks(db, keyring, AuditSinks(db, Outbox("vault", tables.outbox, Subjects()), keyring))
    finally:
        keyring.wipe()
        await db.dispose()


async def outbox_types(db: Database) -> list[str]:
    async with db.read() as conn:
        bodies = (await conn.execute(sa.select(tables.outbox.c.body).order_by(tables.outbox.c.id))).scalars()
        return [body.decode().split('"type":"', 1)[1].split('"', 1)[0] for body in bodies]


async def test_a_sink_is_enabled_listed_and_disabled_with_its_events(sinks: Sinks) -> None:
    row = await sinks.domain.enable(
        "file1/",
        "file",
        {"file_path": "/var/log/assay/audit.log", "rotate_bytes": "1048576", "hmac_accessor": "false"},
        actor="user:ann",
        description="to disk",
        filter=["assay.vault.*"],
    )

    assert (row.path, row.type, row.description, row.filter, row.secret, row.local) == (
        "file1",
        "file",
        "to disk",
        ["assay.vault.*"],
        None,
        False,
    )
    assert options_of(row) == FileOptions("/var/log/assay/audit.log", 0o600, 1048576, 5)
    assert await sinks.domain.list() == [row]
    with pytest.raises(AuditSinkExists, match="path already in use"):
        await sinks.domain.enable("file1", "file", {"file_path": "stdout"}, actor="user:ann")

    assert await sinks.domain.disable("file1", actor="user:ann") is True
    assert await sinks.domain.disable("file1", actor="user:ann") is False
    assert await sinks.domain.list() == []
    assert await outbox_types(sinks.db) == [
        "assay.vault.audit_sink_enabled",
        "assay.vault.audit_sink_disabled",
    ]


async def test_a_webhooks_hmac_key_is_kept_sealed_to_its_path_and_never_as_an_option(sinks: Sinks) -> None:
    row = await sinks.domain.enable(
        "hook", "webhook", {"url": "https://audit.example/in", "hmac_key": HMAC_KEY}, actor="user:ann"
    )

    assert row.options == {"url": "https://audit.example/in"}
    assert options_of(row) == WebhookOptions("https://audit.example/in", 10.0)
    async with sinks.db.read() as conn:
        stored = (await conn.execute(sa.select(tables.audit_sinks))).one()._mapping
    assert HMAC_KEY.encode() not in stored["secret"] and HMAC_KEY not in str(dict(stored))
    assert sinks.keyring.open(stored["secret"], secret_place("hook")) == HMAC_KEY.encode()
    with pytest.raises(RecordIntegrityFailed):
        sinks.keyring.open(stored["secret"], secret_place("other"))


async def test_syslog_options_have_vaults_defaults_where_none_are_given(sinks: Sinks) -> None:
    plain = await sinks.domain.enable("syslog", "syslog", {}, actor="user:ann")
    chosen = await sinks.domain.enable(
        "syslog2",
        "syslog",
        {"address": "[::1]:6514", "protocol": "TCP", "facility": "local3", "tag": "vault"},
        actor="user:ann",
    )

    assert options_of(plain) == SyslogOptions("127.0.0.1", 514, "udp", 4, "assay-vault")
    assert options_of(chosen) == SyslogOptions("::1", 6514, "tcp", 19, "vault")


@pytest.mark.parametrize(
    ("path", "sink_type", "options", "globs", "reason"),
    [
        ("a/b", "file", {"file_path": "stdout"}, ["*"], "one segment"),
        ("-x", "file", {"file_path": "stdout"}, ["*"], "one segment"),
        ("s", "socket", {}, ["*"], 'unknown backend type: "socket"'),
        ("s", "file", {}, ["*"], "file_path is required"),
        ("s", "file", {"file_path": "relative.log"}, ["*"], "absolute path"),
        ("s", "file", {"file_path": "/a.log", "mode": "rw"}, ["*"], "octal"),
        ("s", "file", {"file_path": "/a.log", "rotate_keep": "0"}, ["*"], "rotate_keep must be between"),
        ("s", "file", {"file_path": "/a.log", "rotate_bytes": "lots"}, ["*"], "whole number"),
        ("s", "file", {"file_path": "/a.log", "bogus": "x"}, ["*"], "unknown option(s) bogus"),
        ("s", "file", {"file_path": "/a.log", "format": "jsonx"}, ["*"], "format must be 'json'"),
        ("s", "webhook", {"url": "ftp://x/"}, ["*"], "http:// or https://"),
        ("s", "webhook", {"url": "https://x/", "hmac_key": "short"}, ["*"], "at least 16 bytes"),
        ("s", "webhook", {"url": "https://x/", "timeout_seconds": "0"}, ["*"], "timeout_seconds"),
        ("s", "syslog", {"address": "nowhere"}, ["*"], "host:port"),
        ("s", "syslog", {"address": "::1:514"}, ["*"], "brackets"),
        ("s", "syslog", {"protocol": "sctp"}, ["*"], "'udp' or 'tcp'"),
        ("s", "syslog", {"facility": "mine"}, ["*"], "facility must be one of"),
        ("s", "syslog", {"tag": "two words"}, ["*"], "printable ASCII"),
        ("s", "file", {"file_path": "stdout"}, [], "at least one glob"),
        ("s", "file", {"file_path": "stdout"}, [""], "printable characters"),
    ],
)
async def test_bad_sinks_are_refused_with_the_reason_and_change_nothing(
    sinks: Sinks, path: str, sink_type: str, options: dict[str, str], globs: list[str], reason: str
) -> None:
    with pytest.raises(InvalidAuditSink) as refused:
        await sinks.domain.enable(path, sink_type, options, actor="user:ann", filter=globs)

    assert refused.value.status == 400
    assert reason in refused.value.detail
    assert await sinks.domain.list() == []
    assert await outbox_types(sinks.db) == []


async def test_sinks_need_an_unsealed_vault(sinks: Sinks) -> None:
    sinks.keyring.wipe()
    calls: list[Any] = [
        sinks.domain.enable("s", "file", {"file_path": "stdout"}, actor="user:ann"),
        sinks.domain.list(),
        sinks.domain.disable("s", actor="user:ann"),
    ]
    for call in calls:
        with pytest.raises(Sealed):
            await call


async def test_one_replica_at_a_time_holds_a_sinks_lease_until_it_lapses_or_is_released(sinks: Sinks) -> None:
    row = await sinks.domain.enable("leased", "file", {"file_path": "discard"}, actor="user:ann")
    now = utcnow()
    later = now + timedelta(seconds=10)

    async def take(replica: str, at: Any) -> bool:
        async with sinks.db.transaction() as tx:
            return await store.take_lease(tx.conn, row, replica, at, at + timedelta(seconds=10))

    assert await take("a", now) is True
    assert await take("b", now) is False
    assert await take("a", now + timedelta(seconds=5)) is True  # renewed: holds until 15 s
    assert await take("b", later) is False
    assert await take("b", later + timedelta(seconds=6)) is True  # a's lease lapsed
    async with sinks.db.transaction() as tx:
        await store.release_lease(tx.conn, row, "b")
    assert await take("a", later + timedelta(seconds=6)) is True

    await sinks.domain.disable("leased", actor="user:ann")
    again = await sinks.domain.enable("leased", "file", {"file_path": "discard"}, actor="user:ann")
    assert again.created_at != row.created_at
    assert await take("b", later + timedelta(seconds=6)) is False  # the enablement that was
