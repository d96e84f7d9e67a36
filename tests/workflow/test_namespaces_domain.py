"""Namespaces in the domain, on SQLite and on Postgres: `main` is announced once, and a listing
filtered by what the caller may see still pages correctly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence

import pytest
import sqlalchemy as sa

from assay_workflow.domain.namespaces import DEFAULT_NAMESPACE, Namespaces
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import tables
from assay_workflow.store.namespaces import NamespaceRow
from tests.conftest import NatsServer
from tests.workflow.engines import engine_on


@pytest.fixture
async def namespaces(database_url: str, unique: str, nats_server: NatsServer) -> AsyncIterator[Namespaces]:
    async with engine_on(database_url, unique, nats_server.url, WorkflowSettings()) as engine:
        yield Namespaces(engine.db, engine.outbox)


async def created_events(namespaces: Namespaces) -> list[str]:
    """The namespaces whose `namespace_created` waits in the outbox."""
    async with namespaces.db.read() as conn:
        query = sa.select(tables.outbox.c.body).order_by(tables.outbox.c.id)
        bodies = (await conn.execute(query)).scalars().all()
    events = [json.loads(body) for body in bodies]
    return [e["data"]["namespace"] for e in events if e["type"] == "assay.workflow.namespace_created"]


async def test_main_is_announced_once_however_many_replicas_try(namespaces: Namespaces) -> None:
    tries = await asyncio.gather(*(namespaces.announce(DEFAULT_NAMESPACE) for _ in range(4)))

    assert sorted(tries) == [False, False, False, True]
    assert not await namespaces.announce(DEFAULT_NAMESPACE)
    await namespaces.create("payments", "")
    # A namespace created through the API was announced by its creation; an unknown one never is.
    assert not await namespaces.announce("payments")
    assert not await namespaces.announce("nowhere")
    assert await created_events(namespaces) == [DEFAULT_NAMESPACE, "payments"]


async def test_a_filtered_listing_reads_on_past_hidden_namespaces(namespaces: Namespaces) -> None:
    names = [f"n{i:02}" for i in range(30)]
    for name in names:
        await namespaces.create(name, "")
    shown = {"n03", "n17", "n18", "n29"}
    asked: list[int] = []

    async def visible(rows: Sequence[NamespaceRow]) -> list[bool]:
        asked.append(len(rows))
        return [row.name in shown for row in rows]

    page, more = await namespaces.list_visible(visible, after=None, limit=2)
    assert ([row.name for row in page], more) == (["n03", "n17"], True)
    # Batches grow while few are shown (3, 6, 12, … namespaces judged at a time).
    assert asked[:3] == [3, 6, 12]
    page, more = await namespaces.list_visible(visible, after="n17", limit=2)
    assert ([row.name for row in page], more) == (["n18", "n29"], False)
    page, more = await namespaces.list_visible(visible, after="n29", limit=2)
    assert (page, more) == ([], False)
