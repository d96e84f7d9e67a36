"""Transit in Vault's dialect through the running stack, with Assay API keys as hvac's tokens: who
may do what on a transit mount (`vault_mount:<mount>#read/#write/#administer`), Vault's upsert of a
key by `encrypt` only for who may create keys, and one engine behind both dialects."""

from __future__ import annotations

import asyncio
import base64

import hvac
import hvac.exceptions
import pytest

from tests.conftest import Stack
from tests.gateway.members import api_key, consistent, create_user, grant

TRANSIT = "/api/v1/vault/transit"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_readers_read_keys_writers_use_them_and_administrators_create_them(
    stack: Stack, unique: str
) -> None:
    mount = f"tv{unique}"
    admin = hvac.Client(url=stack.url, token=stack.admin_key)
    await asyncio.to_thread(admin.sys.enable_secrets_engine, "transit", path=mount)
    await asyncio.to_thread(admin.secrets.transit.create_key, "orders", mount_point=mount)
    reader = await create_user(stack, f"reader-{unique}@example.com")
    writer = await create_user(stack, f"writer-{unique}@example.com")
    zookie = await grant(
        stack, f"vault_mount:{mount}#reader@user:{reader}", f"vault_mount:{mount}#writer@user:{writer}"
    )
    clients = {}
    for role, user in (("reader", reader), ("writer", writer)):
        client = hvac.Client(url=stack.url, token=await api_key(stack, user, "*"))
        client.session.headers.update(consistent(zookie))
        clients[role] = client.secrets.transit

    def as_reader() -> None:
        transit = clients["reader"]
        assert transit.list_keys(mount_point=mount)["data"]["keys"] == ["orders"]
        assert transit.read_key("orders", mount_point=mount)["data"]["latest_version"] == 1
        with pytest.raises(hvac.exceptions.Forbidden):
            transit.encrypt_data("orders", b64("x"), mount_point=mount)

    def as_writer() -> None:
        transit = clients["writer"]
        ciphertext = transit.encrypt_data("orders", b64("order 7"), mount_point=mount)["data"]["ciphertext"]
        assert transit.decrypt_data("orders", ciphertext, mount_point=mount)["data"]["plaintext"] == b64(
            "order 7"
        )
        for manage in (transit.create_key, transit.rotate_key, transit.backup_key):
            with pytest.raises(hvac.exceptions.Forbidden):
                manage("orders", mount_point=mount)
        # Vault creates a missing key on encrypt only for who may create keys (`create`).
        with pytest.raises(hvac.exceptions.InvalidRequest, match="encryption key not found"):
            transit.encrypt_data("new", b64("x"), mount_point=mount)
        assert admin.secrets.transit.list_keys(mount_point=mount)["data"]["keys"] == ["orders"]

    def as_administrator() -> None:
        made = admin.secrets.transit.encrypt_data("new", b64("x"), context=b64("c"), mount_point=mount)
        assert made["data"]["key_version"] == 1
        created = admin.secrets.transit.read_key("new", mount_point=mount)["data"]
        assert (created["type"], created["derived"]) == ("aes256-gcm96", True), "derived: it had a context"

    await asyncio.to_thread(as_reader)
    await asyncio.to_thread(as_writer)
    await asyncio.to_thread(as_administrator)


async def test_one_engine_behind_both_dialects(stack: Stack, unique: str) -> None:
    mount = f"tb{unique}"
    client = hvac.Client(url=stack.url, token=stack.admin_key)
    await asyncio.to_thread(client.sys.enable_secrets_engine, "transit", path=mount)
    created = await stack.client.post(f"{TRANSIT}/{mount}/keys/shared", json={})
    assert created.status_code in (200, 201), created.text
    native = await stack.client.post(f"{TRANSIT}/{mount}/encrypt/shared", json={"plaintext": b64("both")})
    assert native.status_code == 200, native.text

    decrypted = await asyncio.to_thread(
        client.secrets.transit.decrypt_data, "shared", native.json()["ciphertext"], mount_point=mount
    )

    assert decrypted["data"]["plaintext"] == b64("both")
    listed = await asyncio.to_thread(client.sys.list_mounted_secrets_engines)
    assert (listed["data"][f"{mount}/"]["type"], listed["data"][f"{mount}/"]["options"]) == ("transit", None)
