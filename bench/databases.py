"""Databases of a benchmark run: made fresh on a Postgres server and dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


@asynccontextmanager
async def postgres_database(admin_url: str, label: str) -> AsyncIterator[str]:
    """A fresh database on the server of `admin_url`, dropped on the way out; yields its URL."""
    name = f"bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def fresh_database(admin_url: str | None, label: str) -> AsyncIterator[str | None]:
    """`postgres_database` when a server is given; None (the platform's SQLite files) otherwise."""
    if admin_url is None:
        yield None
        return
    async with postgres_database(admin_url, label) as url:
        yield url
