"""Vault processes of their own for tests that seal and unseal: replicas of one fresh vault (one
database, their own events subjects on the stack's NATS), reached directly with an internal
token, as the gateway reaches them. The stack's own vault stays unsealed for everyone else."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

from assay.local import free_port
from assay.local.platform import ManagedProcess
from assay_common.db import Database
from assay_common.events.subjects import Subjects
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from tests.conftest import Stack, run_subjects

#: Who calls the replicas in these tests: another Assay service (the gateway checked the caller).
CALLER = Principal(id="vault-tests", kind="service")


class InternalToken(httpx.Auth):
    """A fresh internal token on every request (they live a minute)."""

    def __init__(self, minter: InternalTokenMinter) -> None:
        self.minter = minter

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[INTERNAL_TOKEN_HEADER] = self.minter.mint(CALLER, audience="vault")
        yield request


@dataclass
class Replica:
    process: ManagedProcess
    url: str
    client: httpx.AsyncClient
    #: Where the vault's tables are: a SQLite URL, or the stack's Postgres with `schema`.
    database_url: str
    schema: str | None
    #: The subjects and streams of the replicas' events and audit records.
    subjects: Subjects

    def database(self) -> Database:
        """The replicas' database, for a test that reads or alters what they stored."""
        return Database(self.database_url, schema=self.schema)

    async def restart(self) -> None:
        await self.process.stop()
        await self.process.spawn()
        async with aiohttp.ClientSession() as probe:
            await self.process.wait_ready(probe, asyncio.get_running_loop().time() + 60)


@asynccontextmanager
async def vault_replicas(
    stack: Stack, directory: Path, count: int, extra_env: dict[str, str] | None = None
) -> AsyncIterator[list[Replica]]:
    """`count` replicas of one new, uninitialized vault, ready."""
    label = secrets.token_hex(4)
    subjects = run_subjects(f"v{free_port()}")
    env = {
        "PYTHONUNBUFFERED": "1",
        "ASSAY_DATA_DIR": str(directory),
        "ASSAY_NATS_URL": stack.nats.url,
        "ASSAY_SUBJECT_PREFIX": subjects.events_prefix,
        "ASSAY_AUDIT_SUBJECT_PREFIX": subjects.audit_prefix,
        "ASSAY_EVENTS_STREAM": subjects.events_stream,
        "ASSAY_AUDIT_STREAM": subjects.audit_stream,
        "ASSAY_INTERNAL_VERIFY_KEYS_FILE": str(stack.platform.data_dir / "internal.pub"),
        "ASSAY_LOG_JSON": "true",
        **(extra_env or {}),
    }
    database_url, schema = f"sqlite:///{(directory / 'vault.db').resolve()}", None
    if stack.database_url:
        database_url, schema = stack.database_url, f"vault_{label}"
        env |= {"ASSAY_DATABASE_URL": database_url, "ASSAY_VAULT_DB_SCHEMA": schema}
    minter = InternalTokenMinter(load_private_key((stack.platform.data_dir / "internal.key").read_bytes()))
    replicas: list[Replica] = []
    try:
        for index in range(count):
            port = free_port()
            process = ManagedProcess(
                f"vault-{label}-{index}",
                [sys.executable, "-m", "assay_vault"],
                {**env, "ASSAY_VAULT_PORT": str(port)},
                stack.platform.log_dir / f"vault-{label}-{index}.log",
                ready_url=f"http://127.0.0.1:{port}/readyz",
            )
            url = f"http://127.0.0.1:{port}"
            client = httpx.AsyncClient(base_url=url, auth=InternalToken(minter))
            replicas.append(Replica(process, url, client, database_url, schema, subjects))
            # One after the other: the first creates the tables.
            await process.spawn()
            async with aiohttp.ClientSession() as probe:
                await process.wait_ready(probe, asyncio.get_running_loop().time() + 60)
        yield replicas
    finally:
        for started in replicas:
            await started.client.aclose()
            await started.process.stop()
