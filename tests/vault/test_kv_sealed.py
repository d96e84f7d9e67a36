"""A sealed vault answers every KV and mount operation with 503 in both dialects, and its secrets
read back once it is unsealed: a vault process of its own, so the stack's stays unsealed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Stack
from tests.vault.vault_processes import vault_replicas

SYS = "/api/v1/vault/sys"
KV = "/api/v1/vault/kv/secret"


async def test_a_sealed_vault_refuses_every_kv_operation_and_reads_again_once_unsealed(
    stack: Stack, tmp_path: Path
) -> None:
    async with vault_replicas(stack, tmp_path, 1) as (replica,):
        vault = replica.client
        made = await vault.post(f"{SYS}/init", json={"secret_shares": 1, "secret_threshold": 1})
        key = made.json()["keys"][0]
        assert (await vault.post(f"{SYS}/unseal", json={"key": key})).json()["sealed"] is False
        assert (
            await vault.post("/v1/sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}})
        ).status_code == 204
        assert (await vault.put(f"{KV}/secrets/app", json={"data": {"pw": "s3cret"}})).status_code == 200

        assert (await vault.post(f"{SYS}/seal")).status_code == 204
        native = [
            await vault.get(f"{KV}/secrets/app"),
            await vault.put(f"{KV}/secrets/app", json={"data": {"pw": "x"}}),
            await vault.get(f"{KV}/metadata/app"),
            await vault.delete(f"{KV}/secrets/app"),
            await vault.get(f"{KV}/keys"),
            await vault.get("/api/v1/vault/mounts"),
        ]
        assert [(r.status_code, r.json()["code"]) for r in native] == [(503, "sealed")] * len(native)
        dialect = [
            await vault.get("/v1/secret/data/app"),
            await vault.post("/v1/secret/data/app", json={"data": {"pw": "x"}}),
            await vault.request("LIST", "/v1/secret/metadata/"),
            await vault.post("/v1/secret/destroy/app", json={"versions": [1]}),
            await vault.get("/v1/secret/config"),
            await vault.get("/v1/sys/mounts"),
        ]
        assert [(r.status_code, r.json()) for r in dialect] == [(503, {"errors": ["Vault is sealed"]})] * len(
            dialect
        )

        assert (await vault.post(f"{SYS}/unseal", json={"key": key})).json()["sealed"] is False
        read = await vault.get("/v1/secret/data/app")
        assert (read.status_code, read.json()["data"]["data"]) == (200, {"pw": "s3cret"})
