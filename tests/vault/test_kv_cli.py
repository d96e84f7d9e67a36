"""OpenBao's own CLI (`bao`, which speaks Vault's API as the `vault` CLI does) against Assay: enable
a KV v2 mount, put, patch, get, list, delete, undelete, destroy and the metadata commands, with an
Assay API key as its token."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from tests.conftest import Stack
from tests.vault.openbao import BAO


async def bao(stack: Stack, *args: str) -> tuple[int, str]:
    """Run `bao <args>` against the stack: its exit status and what it printed."""
    env = {
        **os.environ,
        "BAO_ADDR": stack.url,
        "BAO_TOKEN": stack.admin_key,
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    process = await asyncio.create_subprocess_exec(
        str(BAO), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def ok(stack: Stack, *args: str) -> Any:
    status, output = await bao(stack, *args)
    assert status == 0, (args, output)
    return json.loads(output) if output.strip().startswith(("{", "[")) else output


async def test_the_bao_cli_manages_kv_v2_secrets(stack: Stack, unique: str) -> None:
    mount = f"c{unique}"
    await ok(stack, "secrets", "enable", f"-path={mount}", "-version=2", "kv")
    written = await ok(stack, "kv", "put", "-format=json", f"-mount={mount}", "app/db", "pw=1", "user=ann")
    assert written["data"]["version"] == 1
    await ok(stack, "kv", "patch", "-format=json", f"-mount={mount}", "app/db", "pw=2")
    read = await ok(stack, "kv", "get", "-format=json", f"-mount={mount}", "app/db")
    assert (read["data"]["data"], read["data"]["metadata"]["version"]) == ({"pw": "2", "user": "ann"}, 2)
    assert await ok(stack, "kv", "list", "-format=json", f"-mount={mount}", "app") == ["db"]
    # The path form (`<mount>/<path>`) asks the preflight route which mount the path is in.
    first = await ok(stack, "kv", "get", "-format=json", "-version=1", f"{mount}/app/db")
    assert first["data"]["data"] == {"pw": "1", "user": "ann"}

    await ok(stack, "kv", "delete", f"-mount={mount}", "app/db")
    # As against Vault: a deleted version shows its metadata, no data.
    deleted = await ok(stack, "kv", "get", "-format=json", f"-mount={mount}", "app/db")
    assert deleted["data"]["data"] is None and deleted["data"]["metadata"]["deletion_time"]
    await ok(stack, "kv", "undelete", "-versions=2", f"-mount={mount}", "app/db")
    await ok(stack, "kv", "destroy", "-versions=1", f"-mount={mount}", "app/db")
    await ok(
        stack,
        "kv",
        "metadata",
        "put",
        "-max-versions=5",
        "-custom-metadata=owner=ann",
        f"-mount={mount}",
        "app/db",
    )
    metadata = await ok(stack, "kv", "metadata", "get", "-format=json", f"-mount={mount}", "app/db")
    assert (metadata["data"]["max_versions"], metadata["data"]["custom_metadata"]) == (5, {"owner": "ann"})
    assert metadata["data"]["versions"]["1"]["destroyed"] is True
    await ok(stack, "kv", "metadata", "delete", f"-mount={mount}", "app/db")
    status, _ = await bao(stack, "kv", "get", f"-mount={mount}", "app/db")
    assert status == 2
    await ok(stack, "secrets", "disable", mount)
