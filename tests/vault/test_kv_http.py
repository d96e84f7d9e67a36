"""KV v2 and mounts through the running stack: Assay's own API (typed JSON, problem+json), hvac on
`/v1` with an Assay API key as its token, who may do what (`vault_mount:<mount>#read/#write/
#administer`, mounts by platform administrators), and the events that writes publish."""

from __future__ import annotations

import asyncio
import json

import httpx
import hvac
import hvac.exceptions
import pytest

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from tests.conftest import Stack
from tests.gateway.members import api_key, bearer, consistent, create_user, grant
from tests.support import eventually, subject_messages

KV = "/api/v1/vault/kv"


async def enable(stack: Stack, mount: str) -> None:
    response = await stack.client.post("/api/v1/vault/mounts", json={"path": mount, "description": "tests"})
    assert response.status_code == 201, response.text


async def test_secrets_through_the_native_api(stack: Stack, unique: str) -> None:
    mount = f"n{unique}"
    await enable(stack, mount)
    client = stack.client
    listed = await client.get("/api/v1/vault/mounts")
    assert mount in [m["path"] for m in listed.json()["items"]]
    assert (await client.post("/api/v1/vault/mounts", json={"path": mount})).json()["code"] == "mount_exists"

    first = await client.put(f"{KV}/{mount}/secrets/app/db", json={"data": {"pw": "1"}})
    assert first.status_code == 200, first.text
    assert first.json()["version"]["version"] == 1
    stale = await client.put(f"{KV}/{mount}/secrets/app/db", json={"data": {"pw": "2"}, "cas": 0})
    assert (stale.status_code, stale.json()["code"]) == (409, "cas_mismatch")
    patched = await client.patch(
        f"{KV}/{mount}/secrets/app/db",
        json={"data": {"user": "ann"}, "cas": 1},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert patched.json()["version"]["version"] == 2, patched.text
    read = await client.get(f"{KV}/{mount}/secrets/app/db")
    assert read.json()["data"] == {"pw": "1", "user": "ann"}
    assert (await client.get(f"{KV}/{mount}/keys", params={"prefix": "app"})).json() == {"keys": ["db"]}

    assert (await client.delete(f"{KV}/{mount}/secrets/app/db")).status_code == 204
    deleted = await client.get(f"{KV}/{mount}/secrets/app/db")
    assert (deleted.status_code, deleted.json()["code"], deleted.json()["version"]) == (
        404,
        "secret_version_deleted",
        2,
    )
    assert (await client.post(f"{KV}/{mount}/undelete/app/db", json={"versions": [2]})).status_code == 204
    assert (await client.post(f"{KV}/{mount}/destroy/app/db", json={"versions": [1]})).status_code == 204
    destroyed = await client.get(f"{KV}/{mount}/secrets/app/db", params={"version": 1})
    assert destroyed.json()["code"] == "secret_version_destroyed"
    empty = await client.post(f"{KV}/{mount}/delete/app/db", json={"versions": []})
    assert (empty.status_code, empty.headers["content-type"]) == (422, "application/problem+json")

    metadata = await client.patch(
        f"{KV}/{mount}/metadata/app/db", json={"custom_metadata": {"owner": "ann"}, "max_versions": 3}
    )
    assert metadata.status_code == 200, metadata.text
    body = metadata.json()
    assert (body["current_version"], body["max_versions"], body["custom_metadata"]) == (
        2,
        3,
        {"owner": "ann"},
    )
    assert [(v["version"], v["destroyed"]) for v in body["versions"]] == [(1, True), (2, False)]

    config = await client.put(f"{KV}/{mount}/config", json={"cas_required": True})
    assert config.json()["cas_required"] is True
    refused = await client.put(f"{KV}/{mount}/secrets/other", json={"data": {"a": "b"}})
    assert refused.json()["code"] == "cas_required"

    assert (await client.delete(f"{KV}/{mount}/metadata/app/db")).status_code == 204
    assert (await client.get(f"{KV}/{mount}/metadata/app/db")).json()["code"] == "secret_not_found"
    assert (await client.delete(f"/api/v1/vault/mounts/{mount}")).status_code == 204
    gone = await client.get(f"{KV}/{mount}/secrets/app/db")
    assert (gone.status_code, gone.json()["code"]) == (404, "mount_not_found")


async def test_hvac_with_an_api_key_as_token_and_multi_segment_paths(stack: Stack, unique: str) -> None:
    mount = f"h{unique}"
    client = hvac.Client(url=stack.url, token=stack.admin_key)

    def work() -> dict[str, object]:
        client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
        kv = client.secrets.kv.v2
        kv.create_or_update_secret("team/a/b/c", {"k": "v"}, mount_point=mount)
        assert kv.list_secrets("team/a", mount_point=mount)["data"]["keys"] == ["b/"]
        read: dict[str, object] = kv.read_secret_version(
            "team/a/b/c", mount_point=mount, raise_on_deleted_version=True
        )
        return read

    read = await asyncio.to_thread(work)
    assert read["data"] == {"data": {"k": "v"}, "metadata": read["data"]["metadata"]}  # type: ignore[index]
    native = await stack.client.get(f"{KV}/{mount}/secrets/team/a/b/c")
    assert native.json()["data"] == {"k": "v"}, "one store behind both dialects"


async def test_who_may_read_write_and_administer(stack: Stack, unique: str) -> None:
    mount = f"p{unique}"
    await enable(stack, mount)
    assert (await stack.client.put(f"{KV}/{mount}/secrets/s", json={"data": {"a": "b"}})).status_code == 200
    reader = await create_user(stack, f"reader-{unique}@example.com")
    stranger = await create_user(stack, f"stranger-{unique}@example.com")
    zookie = await grant(stack, f"vault_mount:{mount}#reader@user:{reader}")
    reader_key, stranger_key = await api_key(stack, reader, "*"), await api_key(stack, stranger, "*")
    as_reader = {**bearer(reader_key), **consistent(zookie)}
    as_stranger = {**bearer(stranger_key), **consistent(zookie)}

    assert (await stack.client.get(f"{KV}/{mount}/secrets/s", headers=as_reader)).status_code == 200
    for method, path, body in (
        ("PUT", f"{KV}/{mount}/secrets/s", {"data": {"a": "c"}}),
        ("POST", f"{KV}/{mount}/destroy/s", {"versions": [1]}),
        ("PUT", f"{KV}/{mount}/config", {"max_versions": 1}),
        ("DELETE", f"/api/v1/vault/mounts/{mount}", None),
        ("POST", "/api/v1/vault/mounts", {"path": f"x{unique}"}),
    ):
        refused = await stack.client.request(method, path, json=body, headers=as_reader)
        assert refused.status_code == 403, (method, path, refused.text)
    stranger_read = await stack.client.get(f"{KV}/{mount}/secrets/s", headers=as_stranger)
    assert (stranger_read.status_code, stranger_read.json()["needed"]) == (403, f"vault_mount:{mount}#read")

    def vault_dialect() -> None:
        reading = hvac.Client(url=stack.url, token=reader_key)
        kv = reading.secrets.kv.v2
        assert kv.read_secret_version("s", mount_point=mount, raise_on_deleted_version=True)["data"][
            "data"
        ] == {"a": "b"}
        with pytest.raises(hvac.exceptions.Forbidden):
            kv.create_or_update_secret("s", {"a": "d"}, mount_point=mount)
        with pytest.raises(hvac.exceptions.Forbidden):
            hvac.Client(url=stack.url, token=stranger_key).secrets.kv.v2.list_secrets("", mount_point=mount)

    await asyncio.to_thread(vault_dialect)


async def test_writes_publish_events_without_values(stack: Stack, unique: str) -> None:
    mount = f"e{unique}"
    await enable(stack, mount)
    await stack.client.put(f"{KV}/{mount}/secrets/app/key", json={"data": {"token": "do-not-leak"}})
    await stack.client.post(f"{KV}/{mount}/delete/app/key", json={"versions": [1]})
    subject = f"{stack.subjects.events_prefix}.vault._.*"
    found: list[dict[str, object]] = []

    async def published() -> bool:
        messages = await subject_messages(stack.nats.url, stack.subjects.events_stream, subject)
        found[:] = [json.loads(m.data) for m in messages if m.data and mount.encode() in m.data]
        return {"assay.vault.secret_versions_deleted", "assay.vault.secret_written"} <= {
            e["type"] for e in found
        }

    await eventually(published, what="the KV events")
    assert {e["type"] for e in found} >= {"assay.vault.mount_enabled"}
    written = next(e for e in found if e["type"] == "assay.vault.secret_written")
    assert written["data"] == {"mount": mount, "path": "app/key", "version": 1, "pruned_up_to": 0}
    assert not any(b"do-not-leak" in json.dumps(e).encode() for e in found)


async def test_values_beyond_what_is_stored_are_refused_not_failed(stack: Stack, unique: str) -> None:
    mount = f"b{unique}"
    await enable(stack, mount)
    await stack.client.put(f"{KV}/{mount}/secrets/s", json={"data": {"a": "b"}})
    huge = 2**40
    read = await stack.client.get(f"/v1/{mount}/data/s", params={"version": huge})
    assert (read.status_code, read.json()) == (404, {"errors": []})
    deleted = await stack.client.post(f"/v1/{mount}/delete/s", json={"versions": [huge]})
    assert deleted.status_code == 204
    config = await stack.client.post(f"/v1/{mount}/config", json={"max_versions": huge})
    assert config.status_code == 400, config.text
    metadata = await stack.client.put(f"{KV}/{mount}/metadata/s", json={"delete_version_after_seconds": huge})
    assert (metadata.status_code, metadata.json()["code"]) == (422, "invalid_setting")
    nul = await stack.client.put(f"{KV}/{mount}/secrets/a%00b", json={"data": {"a": "b"}})
    assert (nul.status_code, nul.json()["code"]) == (422, "invalid_secret")
    listed = await stack.client.get(f"{KV}/{mount}/keys", params={"prefix": "a\x00"})
    assert (listed.status_code, listed.json()["code"]) == (422, "invalid_secret")
    no_mount = await stack.client.get("/v1/a=b/config")  # a name no mount can have
    assert (no_mount.status_code, no_mount.json()) == (
        404,
        {"errors": ['no handler for route "a=b/config". route entry not found.']},
    )
    nul_mount = await stack.client.get("/v1/a%00b/config")  # not even a permission's object
    assert nul_mount.status_code == 400, nul_mount.text
    surrogate = b'{"custom_metadata": {"k": "\\ud800"}}'  # valid JSON, but no Unicode text
    metadata = await stack.client.post(
        f"/v1/{mount}/metadata/m", content=surrogate, headers={"content-type": "application/json"}
    )
    assert metadata.status_code == 400, metadata.text


async def test_the_vault_checks_each_route_again(stack: Stack, unique: str) -> None:
    """Called directly (as the gateway does, with an internal token), the vault refuses a user
    without a grant on the mount, in each dialect's form: it never relies on the edge alone."""
    mount = f"d{unique}"
    await enable(stack, mount)
    stranger = Principal(id=await create_user(stack, f"direct-{unique}@example.com"), kind="user")
    minter = InternalTokenMinter(load_private_key((stack.platform.data_dir / "internal.key").read_bytes()))
    headers = {INTERNAL_TOKEN_HEADER: minter.mint(stranger, audience="vault")}
    async with httpx.AsyncClient(base_url=stack.platform.service_url("vault"), headers=headers) as vault:
        native = await vault.put(f"{KV}/{mount}/secrets/s", json={"data": {"a": "b"}})
        dialect = await vault.request("LIST", f"/v1/{mount}/metadata/")
        mounts = await vault.get("/v1/sys/mounts")

    assert (native.status_code, native.json()["needed"]) == (403, f"vault_mount:{mount}#write")
    assert (dialect.status_code, list(dialect.json())) == (403, ["errors"])
    assert mounts.status_code == 403
