"""Grants on part of a mount: `vault_path:<mount>/<folder>#reader|writer` reaches the secrets under
that folder (and `<mount>/<secret path>` one secret), in both dialects, through the gateway and
at the vault itself; nothing outside it, and nothing of the mount's own."""

from __future__ import annotations

import asyncio

import httpx
import hvac
import hvac.exceptions
import pytest

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from assay_common.route_permissions import RouteTable, folder_needs
from tests.conftest import Stack
from tests.gateway.members import api_key, bearer, consistent, create_user, grant

KV = "/api/v1/vault/kv"


def test_the_folders_of_a_secret_are_its_path_prefixes_that_an_object_id_can_name() -> None:
    assert [str(need) for need in folder_needs("secret", "team/db/main", "read")] == [
        "vault_path:secret/team#read",
        "vault_path:secret/team/db#read",
        "vault_path:secret/team/db/main#read",
    ]
    assert [str(need) for need in folder_needs("secret", "/a//b/", "write")] == [
        "vault_path:secret/a#write",
        "vault_path:secret/a/b#write",
    ]
    # A folder whose name the permission store cannot hold cannot have been granted.
    assert [str(need) for need in folder_needs("secret", "team/app.yaml", "read")] == [
        "vault_path:secret/team#read"
    ]
    row = RouteTable().row("GET", "/v1/{mount}/data/{path:path}")
    assert [str(need) for need in row.needs({"mount": "secret", "path": "x/y"})] == [
        "vault_mount:secret#read",
        "vault_path:secret/x#read",
        "vault_path:secret/x/y#read",
    ]
    assert [str(need) for need in RouteTable().row("GET", "/v1/{mount}/config").needs({"mount": "m"})] == [
        "vault_mount:m#read"
    ]


async def test_a_folder_grant_reaches_the_secrets_under_it_and_nothing_else(
    stack: Stack, unique: str
) -> None:
    mount = f"f{unique}"
    created = await stack.client.post("/api/v1/vault/mounts", json={"path": mount})
    assert created.status_code == 201, created.text
    for path in ("team/db", "team/deep/x", "other/db", "teammate"):
        written = await stack.client.put(f"{KV}/{mount}/secrets/{path}", json={"data": {"v": path}})
        assert written.status_code == 200, written.text
    reader = await create_user(stack, f"folder-reader-{unique}@example.com")
    writer = await create_user(stack, f"folder-writer-{unique}@example.com")
    zookie = await grant(
        stack,
        f"vault_path:{mount}/team#reader@user:{reader}",
        f"vault_path:{mount}/team#writer@user:{writer}",
    )
    reader_key, writer_key = await api_key(stack, reader, "*"), await api_key(stack, writer, "*")
    as_reader = {**bearer(reader_key), **consistent(zookie)}
    as_writer = {**bearer(writer_key), **consistent(zookie)}

    for path in ("team/db", "team/deep/x"):
        read = await stack.client.get(f"{KV}/{mount}/secrets/{path}", headers=as_reader)
        assert (read.status_code, read.json().get("data")) == (200, {"v": path}), read.text
    for path in ("other/db", "teammate"):
        refused = await stack.client.get(f"{KV}/{mount}/secrets/{path}", headers=as_reader)
        assert (refused.status_code, refused.json()["needed"]) == (403, f"vault_mount:{mount}#read")
    written = await stack.client.put(
        f"{KV}/{mount}/secrets/team/db", json={"data": {"v": 2}}, headers=as_reader
    )
    assert written.status_code == 403
    written = await stack.client.put(
        f"{KV}/{mount}/secrets/team/db", json={"data": {"v": 2}}, headers=as_writer
    )
    assert written.status_code == 200, written.text
    # The mount's own routes stay the mount's.
    assert (await stack.client.get(f"{KV}/{mount}/config", headers=as_writer)).status_code == 403

    def vault_dialect() -> None:
        kv = hvac.Client(url=stack.url, token=reader_key).secrets.kv.v2
        answer = kv.read_secret_version("team/deep/x", mount_point=mount, raise_on_deleted_version=True)
        assert answer["data"]["data"] == {"v": "team/deep/x"}
        assert kv.list_secrets("team", mount_point=mount)["data"]["keys"] == ["db", "deep/"]
        with pytest.raises(hvac.exceptions.Forbidden):
            kv.read_secret_version("other/db", mount_point=mount, raise_on_deleted_version=True)
        with pytest.raises(hvac.exceptions.Forbidden):
            kv.list_secrets("", mount_point=mount)
        with pytest.raises(hvac.exceptions.Forbidden):
            kv.create_or_update_secret("team/db", {"v": 3}, mount_point=mount)

    await asyncio.to_thread(vault_dialect)


async def test_the_vault_itself_honours_folder_grants(stack: Stack, unique: str) -> None:
    """Called directly, as the gateway calls it: the vault's own check of the row takes the folder
    grant too, and still refuses outside the folder."""
    mount = f"g{unique}"
    assert (await stack.client.post("/api/v1/vault/mounts", json={"path": mount})).status_code == 201
    for path in ("team/db", "other/db"):
        await stack.client.put(f"{KV}/{mount}/secrets/{path}", json={"data": {"v": 1}})
    reader = await create_user(stack, f"direct-folder-{unique}@example.com")
    zookie = await grant(stack, f"vault_path:{mount}/team#reader@user:{reader}")
    minter = InternalTokenMinter(load_private_key((stack.platform.data_dir / "internal.key").read_bytes()))
    headers = {
        INTERNAL_TOKEN_HEADER: minter.mint(Principal(id=reader, kind="user"), audience="vault"),
        **consistent(zookie),
    }
    async with httpx.AsyncClient(base_url=stack.platform.service_url("vault"), headers=headers) as vault:
        inside = await vault.get(f"/v1/{mount}/data/team/db")
        outside = await vault.get(f"/v1/{mount}/data/other/db")

    assert inside.status_code == 200, inside.text
    assert (outside.status_code, list(outside.json())) == (403, ["errors"])
