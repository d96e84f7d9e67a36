"""The audit with real vault processes: two replicas record every request and deliver each record
once; a request whose record cannot be written is refused (fail closed); sealed answers are
recorded too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from assay_common.db import Database
from tests.conftest import Stack
from tests.support import eventually
from tests.vault.audit_support import holds, lines_of
from tests.vault.vault_processes import Replica, vault_replicas

SECRET = "a value no answer may hold"


@pytest.fixture
async def replicas(stack: Stack, tmp_path: Path) -> AsyncIterator[list[Replica]]:
    """Two replicas of a new vault, initialized and unsealed."""
    async with vault_replicas(stack, tmp_path / "vault", 2) as started:
        one, other = (replica.client for replica in started)
        made = await one.post("/api/v1/vault/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
        for client in (one, other):
            unsealed = await client.post("/api/v1/vault/sys/unseal", json={"key": made.json()["keys"][0]})
            assert unsealed.json()["sealed"] is False, unsealed.text
        yield started


def store_of(replica: Replica) -> Database:
    """The replicas' database, as the vault process reaches it."""
    env = replica.process.env
    if "ASSAY_DATABASE_URL" in env:
        return Database(env["ASSAY_DATABASE_URL"], schema=env["ASSAY_VAULT_DB_SCHEMA"])
    return Database(f"sqlite:///{Path(env['ASSAY_DATA_DIR']) / 'vault.db'}")


def recorded(log: Path) -> list[dict[str, object]]:
    return [orjson.loads(line)["data"] for line in lines_of(log)]


async def test_two_replicas_record_every_request_deliver_it_once_and_refuse_what_they_cannot_record(
    replicas: list[Replica], tmp_path: Path
) -> None:
    one, other = (replica.client for replica in replicas)
    log = tmp_path / "audit.log"
    sink = {"type": "file", "options": {"file_path": str(log)}, "filter": ["assay.vault.request"]}
    assert (await one.put("/api/v1/vault/audit/disk", json=sink)).status_code == 201
    assert (await one.post("/api/v1/vault/mounts", json={"path": "kv"})).status_code == 201
    ids = []
    for index, client in enumerate((one, other) * 3):
        request_id = f"write-{index}"
        answer = await client.put(
            f"/api/v1/vault/kv/kv/secrets/s{index}",
            json={"data": {"v": SECRET}},
            headers={"x-request-id": request_id},
        )
        assert answer.status_code == 200, answer.text
        ids.append(request_id)

    await eventually(
        lambda: holds({r["request_id"] for r in recorded(log)} >= set(ids)),
        within=30,
        what="every write's record",
    )
    writes = [r for r in recorded(log) if str(r["request_id"]).startswith("write-")]
    assert [r["request_id"] for r in writes] == ids, "each once, in order"

    store = store_of(replicas[0])
    try:
        async with store.transaction() as tx:
            await tx.execute(sa.text("ALTER TABLE outbox RENAME TO outbox_away"))
        native = await one.get("/api/v1/vault/kv/kv/secrets/s0")
        in_vaults_form = await other.get("/v1/kv/data/s1")
        async with store.transaction() as tx:
            await tx.execute(sa.text("ALTER TABLE outbox_away RENAME TO outbox"))
    finally:
        await store.dispose()
    again = await one.get("/api/v1/vault/kv/kv/secrets/s0")

    assert (native.status_code, native.json()["code"]) == (503, "audit_unavailable")
    assert (in_vaults_form.status_code, list(in_vaults_form.json())) == (503, ["errors"])
    assert SECRET not in native.text + in_vaults_form.text
    assert (again.status_code, again.json()["data"]) == (200, {"v": SECRET})

    assert (await one.post("/api/v1/vault/sys/seal")).status_code == 204

    async def other_sealed() -> bool:
        return bool((await other.get("/api/v1/vault/sys/seal-status")).json()["sealed"])

    # The other replica learns of the seal through an event.
    await eventually(other_sealed, within=30, what="the other replica sealed")
    sealed = await other.get("/api/v1/vault/kv/kv/secrets/s0", headers={"x-request-id": "while-sealed"})
    assert (sealed.status_code, sealed.json()["code"]) == (503, "sealed")

    async def sealed_recorded() -> bool:
        return any(r["request_id"] == "while-sealed" for r in recorded(log))

    await eventually(sealed_recorded, within=30, what="the sealed answer's record")
    (record,) = [r for r in recorded(log) if r["request_id"] == "while-sealed"]
    assert (record["operation"], record["status"], record["outcome"], record["code"]) == (
        "kv.read",
        503,
        "error",
        "sealed",
    )
    assert len([r for r in recorded(log) if str(r["request_id"]).startswith("write-")]) == len(ids)
    assert not any(SECRET.encode() in line for line in lines_of(log))
