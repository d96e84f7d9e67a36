"""Sealing end to end with real vault processes: init, restart, unseal with the threshold,
seal, and two replicas of one vault, where sealing one seals the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from assay_vault.domain import shamir
from tests.conftest import Stack
from tests.support import eventually
from tests.vault.vault_processes import Replica, vault_replicas

SYS = "/api/v1/vault/sys"


@pytest.fixture
async def replicas(stack: Stack, tmp_path: Path) -> AsyncIterator[list[Replica]]:
    # The periodic check is an hour away: a seal elsewhere must arrive by its event.
    async with vault_replicas(stack, tmp_path, 2, {"ASSAY_VAULT_SEAL_CHECK_SECONDS": "3600"}) as started:
        yield started


async def unseal(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.post(f"{SYS}/unseal", json={"key": key})


async def state(client: httpx.AsyncClient) -> str:
    answer = await client.get(f"{SYS}/health")
    return str(answer.json()["state"])


async def test_a_vault_is_sealed_until_the_threshold_of_shares_unseals_it_again_after_a_restart(
    replicas: list[Replica],
) -> None:
    vault = replicas[0].client
    assert (await vault.get(f"{SYS}/health")).status_code == 501
    assert (await vault.post(f"{SYS}/rotate")).status_code == 503

    made = await vault.post(f"{SYS}/init", json={"secret_shares": 3, "secret_threshold": 2})
    assert made.status_code == 201, made.text
    keys = made.json()["keys"]
    assert (await vault.post(f"{SYS}/init", json={})).json()["code"] == "vault_already_initialized"
    assert (await vault.get(f"{SYS}/health")).status_code == 503

    await replicas[0].restart()

    assert await state(vault) == "sealed"
    first = await unseal(vault, keys[2])
    assert (first.json()["sealed"], first.json()["progress"]) == (True, 1)
    refused = await vault.post(f"{SYS}/rotate")
    assert (refused.status_code, refused.json()["code"]) == (503, "sealed")
    assert (await unseal(vault, made.json()["keys_base64"][0])).json()["sealed"] is False
    rotated = await vault.post(f"{SYS}/rotate")
    assert (rotated.status_code, rotated.json()) == (200, {"kek_version": 2})

    assert (await vault.post(f"{SYS}/seal")).status_code == 204
    assert (await vault.post(f"{SYS}/rotate")).status_code == 503
    wrong = await unseal(vault, shamir.texts(shamir.split(bytes(32), 3, 2))[0][0])
    assert (wrong.json()["progress"], await state(vault)) == (1, "sealed")
    failed = await unseal(vault, keys[1])
    assert (failed.status_code, failed.json()["code"]) == (400, "unseal_failed")
    assert (await unseal(vault, "not a key")).status_code == 400


async def test_sealing_one_replica_seals_every_replica_and_each_is_unsealed_on_its_own(
    replicas: list[Replica],
) -> None:
    one, other = (replica.client for replica in replicas)
    keys = (await one.post(f"{SYS}/init", json={"secret_shares": 1, "secret_threshold": 1})).json()["keys"]

    await unseal(one, keys[0])
    assert (await state(one), await state(other)) == ("unsealed", "sealed")
    await unseal(other, keys[0])
    assert (await other.post(f"{SYS}/rotate")).json() == {"kek_version": 2}
    assert (await one.post(f"{SYS}/rotate")).json() == {"kek_version": 3}  # it loaded version 2

    assert (await one.post(f"{SYS}/seal")).status_code == 204

    async def other_sealed() -> bool:
        return await state(other) == "sealed"

    await eventually(other_sealed, what="the other replica sealed by the event")
    assert (await other.post(f"{SYS}/rotate")).status_code == 503


async def test_a_vault_unseals_itself_from_its_key_file_at_every_start(stack: Stack, tmp_path: Path) -> None:
    key_file = tmp_path / "unseal.key"
    env = {"ASSAY_VAULT_AUTO_UNSEAL_KEY_FILE": str(key_file)}  # no file yet: it starts sealed
    async with vault_replicas(stack, tmp_path / "vault", 1, env) as (replica,):
        made = await replica.client.post(f"{SYS}/init", json={"secret_shares": 3, "secret_threshold": 2})
        key_file.write_text("\n".join(made.json()["keys_base64"][1:]) + "\n")

        await replica.restart()
        unsealed_at_start = await state(replica.client)
        key_file.write_text(made.json()["keys"][0] + "\n")  # too few shares
        await replica.restart()
        with_too_few = await state(replica.client)
        log = replica.process.log_path.read_text()

    assert (unsealed_at_start, with_too_few) == ("unsealed", "sealed")
    assert "auto-unseal: the key file holds too few key shares" in log
    assert not any(key in log for key in made.json()["keys"] + made.json()["keys_base64"])


def rewrapped_so_far(metrics: str) -> float:
    """The replica's count of records sealed again under a newer KEK (Prometheus text)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("assay_vault_records_rewrapped_total{")
    )


async def test_a_rotation_rewraps_every_record_in_the_background(stack: Stack, tmp_path: Path) -> None:
    async with vault_replicas(stack, tmp_path, 1) as (replica,):
        vault = replica.client
        made = await vault.post(f"{SYS}/init", json={"secret_shares": 1, "secret_threshold": 1})
        await unseal(vault, made.json()["keys"][0])
        assert (await vault.post("/api/v1/vault/mounts", json={"path": "secret"})).status_code == 201
        for n in range(5):
            written = await vault.put(f"/api/v1/vault/kv/secret/secrets/s{n}", json={"data": {"n": n}})
            assert written.status_code == 200, written.text

        assert (await vault.post(f"{SYS}/rotate")).json() == {"kek_version": 2}

        async def all_rewrapped() -> bool:
            return rewrapped_so_far((await vault.get("/metrics")).text) == 5

        await eventually(all_rewrapped, what="the five records sealed again under KEK version 2")
        for n in range(5):
            assert (await vault.get(f"/api/v1/vault/kv/secret/secrets/s{n}")).json()["data"] == {"n": n}
        status = (await vault.get(f"{SYS}/key-status")).json()
        assert (status["kek_version"], status["encryptions"]) == (2, 5)
