"""The shared stack's vault: `assay up` initialized it, keeps its unseal key, and it is unsealed."""

from __future__ import annotations

import os
import stat

import httpx

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from tests.auth_api import PASSWORD
from tests.conftest import Stack


async def test_the_stack_vault_is_initialized_and_unsealed(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as anonymous:
        status = await anonymous.get("/api/v1/vault/sys/seal-status")
        health = await anonymous.get("/v1/sys/health")
    assert status.status_code == 200, status.text
    assert status.json() | {"nonce": "", "replica": ""} == {
        "initialized": True,
        "sealed": False,
        "secret_shares": 1,
        "secret_threshold": 1,
        "progress": 0,
        "nonce": "",
        "kek_version": status.json()["kek_version"],
        "replica": "",
    }
    assert health.status_code == 200, health.text
    assert health.json()["sealed"] is False


def test_the_unseal_key_is_kept_readable_by_its_owner_only(stack: Stack) -> None:
    key_file = stack.platform.vault_key_file
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(key_file.read_text().split()) == 1


async def test_the_vault_checks_the_administrator_rows_again_itself(stack: Stack, unique: str) -> None:
    created = await stack.client.post(
        "/api/v1/auth/users", json={"email": f"{unique}@example.com", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    minter = InternalTokenMinter(load_private_key((stack.platform.data_dir / "internal.key").read_bytes()))
    user = Principal(id=created.json()["id"], kind="user")
    async with httpx.AsyncClient(base_url=stack.platform.service_url("vault")) as vault:
        # As if the gateway had let the user through: the vault refuses on its own.
        token = {INTERNAL_TOKEN_HEADER: minter.mint(user, audience="vault")}
        refused = [
            await vault.post(f"/api/v1/vault/sys/{operation}", headers=token, json={})
            for operation in ("seal", "rotate", "init")
        ]
        in_vaults_form = await vault.put("/v1/sys/seal", headers=token)
        anonymous = await vault.post(
            "/api/v1/vault/sys/unseal",
            headers={INTERNAL_TOKEN_HEADER: minter.mint(Principal.anonymous(), audience="vault")},
            json={"reset": True},
        )

    assert [(answer.status_code, answer.json()["code"]) for answer in refused] == [
        (403, "permission_denied")
    ] * 3
    assert (in_vaults_form.status_code, in_vaults_form.json()) == (
        403,
        {"errors": ["this needs platform:assay#administer"]},
    )
    assert anonymous.status_code == 401
    assert (await stack.client.get("/api/v1/vault/sys/health")).status_code == 200
