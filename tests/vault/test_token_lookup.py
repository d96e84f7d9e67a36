"""`/v1/auth/token/lookup-self`: Vault clients look up the credential they present."""

from __future__ import annotations

import asyncio

import hvac
import hvac.exceptions
import pytest

from tests.conftest import Stack


async def test_a_vault_client_looks_up_its_api_key_without_the_key_coming_back(stack: Stack) -> None:
    whoami = (await stack.client.get("/api/v1/auth/whoami")).json()["principal"]
    keys = (await stack.client.get(f"/api/v1/auth/users/{whoami['id']}/api-keys")).json()["items"]
    [key_id] = [key["id"] for key in keys if stack.admin_key.startswith(key["prefix"])]
    client = hvac.Client(url=stack.url, token=stack.admin_key)

    found = (await asyncio.to_thread(client.auth.token.lookup_self))["data"]

    assert found["id"] == "" and stack.admin_key not in str(found)
    assert found["accessor"] == key_id
    assert found["display_name"] == f"api_key:{whoami['id']}"
    assert found["policies"] == ["admin"]
    assert (found["ttl"], found["expire_time"], found["renewable"]) == (0, None, False)


async def test_an_unknown_credential_is_refused_in_vaults_form(stack: Stack) -> None:
    client = hvac.Client(url=stack.url, token="assay_not-a-key")

    with pytest.raises(hvac.exceptions.Unauthorized):
        await asyncio.to_thread(client.auth.token.lookup_self)
