"""The gateway in front of the Vault-compatible API (`/v1`): `X-Vault-Token` is the credential
there, Vault's `LIST` method passes, and refusals come in Vault's `{"errors": [...]}` form, so
hvac maps them to its exceptions. Only harmless requests reach the stack's vault: it stays unsealed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import hvac
import hvac.exceptions
import pytest

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, load_private_key
from assay_common.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import Stack
from tests.gateway.members import api_key, create_user
from tests.vault.vault_processes import CALLER


async def hvac_call(stack: Stack, token: str | None, call: Callable[[hvac.Client], Any]) -> Any:
    """`call` with hvac against the gateway (in a thread: the stack's questions to this process's
    NATS relays, if any, must keep being answered)."""
    client = hvac.Client(url=stack.url, token=token)
    return await asyncio.to_thread(call, client)


async def test_x_vault_token_is_the_credential_on_v1(stack: Stack) -> None:
    status = await hvac_call(stack, stack.admin_key, lambda c: c.sys.submit_unseal_key(reset=True))

    assert (status["sealed"], status["progress"]) == (False, 0)
    for token in (None, "assay_not-a-key"):
        with pytest.raises(hvac.exceptions.Unauthorized) as refused:
            await hvac_call(stack, token, lambda c: c.sys.submit_unseal_key(reset=True))
        assert refused.value.errors and isinstance(refused.value.errors[0], str)


async def test_a_jwt_is_a_vault_token_too(stack: Stack) -> None:
    exchanged = await stack.client.post("/api/v1/auth/token", json={})
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["access_token"]

    status = await hvac_call(stack, token, lambda c: c.sys.submit_unseal_key(reset=True))

    assert status["sealed"] is False


async def test_a_caller_who_is_no_administrator_cannot_seal_in_either_dialect(
    stack: Stack, unique: str
) -> None:
    user_id = await create_user(stack, f"{unique}@example.com")
    key = await api_key(stack, user_id, "*")

    with pytest.raises(hvac.exceptions.Forbidden) as refused:
        await hvac_call(stack, key, lambda c: c.sys.seal())
    native = await stack.client.post("/api/v1/vault/sys/seal", headers={"authorization": f"Bearer {key}"})

    assert refused.value.errors == ["this needs platform:assay#administer"]
    assert (native.status_code, native.headers["content-type"]) == (403, PROBLEM_MEDIA_TYPE)
    assert native.json()["code"] == "permission_denied"
    assert (await stack.client.get("/v1/sys/health")).status_code == 200


async def test_x_vault_token_means_nothing_outside_v1(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as client:
        answer = await client.get("/api/v1/auth/whoami", headers={"x-vault-token": stack.admin_key})

    assert (answer.status_code, answer.headers["content-type"]) == (401, PROBLEM_MEDIA_TYPE)


async def test_the_gateway_and_the_vault_take_vaults_list_method(stack: Stack) -> None:
    unknown = await stack.client.request("LIST", f"/v1/sys/{uuid.uuid4().hex}")
    minter = InternalTokenMinter(load_private_key((stack.platform.data_dir / "internal.key").read_bytes()))
    async with httpx.AsyncClient(base_url=stack.platform.service_url("vault")) as vault:
        direct = await vault.request(
            "LIST", "/v1/sys/health", headers={INTERNAL_TOKEN_HEADER: minter.mint(CALLER, audience="vault")}
        )

    assert (unknown.status_code, list(unknown.json())) == (404, ["errors"])
    assert (direct.status_code, list(direct.json())) == (405, ["errors"])


async def test_vault_health_is_public_with_vaults_status_codes(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as anonymous:
        get = await anonymous.get("/v1/sys/health", params={"activecode": 299})
        head = await anonymous.head("/v1/sys/health")
        init = await anonymous.get("/v1/sys/init")
        seal_status = await anonymous.get("/v1/sys/seal-status")

    assert (get.status_code, get.json()["sealed"], head.status_code) == (299, False, 200)
    assert init.json() == {"initialized": True}
    assert seal_status.json()["type"] == "shamir"


async def test_requests_vault_cannot_apply_are_400_with_the_reason(stack: Stack) -> None:
    again = await stack.client.put("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2})
    malformed = await stack.client.put("/v1/sys/init", json={"secret_shares": "three"})
    native = await stack.client.post("/api/v1/vault/sys/init", json={})

    assert (again.status_code, again.json()) == (400, {"errors": ["the vault is initialized already"]})
    assert malformed.status_code == 400 and "secret_shares" in malformed.json()["errors"][0]
    assert (native.status_code, native.json()["code"]) == (409, "vault_already_initialized")
