"""Tampering with what the vault stored, end to end: a secret's ciphertext copied over another's in
the database fails closed in both dialects with an integrity error that is audited, and the answer
never carries either secret's value."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from assay_vault.store.tables import kv_versions
from tests.conftest import Stack
from tests.support import eventually, subject_messages
from tests.vault.vault_processes import vault_replicas

SYS = "/api/v1/vault/sys"


async def test_a_ciphertext_copied_to_another_secret_fails_closed_and_is_audited(
    stack: Stack, tmp_path: Path
) -> None:
    async with vault_replicas(stack, tmp_path, 1) as (replica,):
        vault = replica.client
        made = await vault.post(f"{SYS}/init", json={"secret_shares": 1, "secret_threshold": 1})
        await vault.post(f"{SYS}/unseal", json={"key": made.json()["keys"][0]})
        assert (await vault.post("/api/v1/vault/mounts", json={"path": "secret"})).status_code == 201
        for path, value in (("alpha", "first-value-7d1c"), ("beta", "second-value-94fe")):
            written = await vault.put(f"/api/v1/vault/kv/secret/secrets/{path}", json={"data": {"v": value}})
            assert written.status_code == 200, written.text

        db = replica.database()
        try:
            async with db.transaction() as tx:
                copied = (
                    await tx.conn.execute(
                        sa.select(kv_versions.c.ciphertext).where(kv_versions.c.path == "alpha")
                    )
                ).scalar_one()
                beta = kv_versions.c.path == "beta"
                await tx.conn.execute(sa.update(kv_versions).where(beta).values(ciphertext=copied))
        finally:
            await db.dispose()

        native = await vault.get("/api/v1/vault/kv/secret/secrets/beta")
        dialect = await vault.get("/v1/secret/data/beta")
        untouched = await vault.get("/api/v1/vault/kv/secret/secrets/alpha")

        async def integrity_failures() -> list[dict[str, object]]:
            messages = await subject_messages(
                stack.nats.url, replica.subjects.audit_stream, replica.subjects.audit("vault", "request")
            )
            records = [json.loads(message.data or b"{}")["data"] for message in messages]
            return [record for record in records if record["code"] == "record_integrity_failed"]

        async def both_audited() -> bool:
            return len(await integrity_failures()) == 2

        await eventually(both_audited, what="an audit record of each failed read")
        audited = await integrity_failures()

    assert (native.status_code, native.json()["code"]) == (500, "record_integrity_failed")
    assert dialect.status_code == 500 and list(dialect.json()) == ["errors"]
    for answer in (native, dialect):
        assert "first-value" not in answer.text and "second-value" not in answer.text
    assert untouched.json()["data"] == {"v": "first-value-7d1c"}
    assert sorted((record["dialect"], record["secret_path"], record["status"]) for record in audited) == [
        ("native", "beta", 500),
        ("vault", "beta", 500),
    ]
