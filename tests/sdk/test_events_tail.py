"""`assay events tail`: events from the gateway's stream, from a sequence on, in each output format."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.conftest import Stack
from tests.sdk.conftest import ASSAY, Cli

CREATED = "assay.workflow.namespace_created"


async def create_namespace(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post("/api/v1/namespaces", json={"name": name})
    assert response.status_code == 201, response.text


async def created_event(cli: Cli, stack: Stack, namespace: str) -> dict[str, Any]:
    """The namespace_created event of `namespace`, as `tail --output jsonl` prints it."""
    result = await cli.run(
        "--api-url", stack.url, "events", "tail", "--namespace", namespace, "--type", CREATED,
        "--from-seq", "1", "--limit", "1", "--output", "jsonl",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    [line] = result.lines()
    event: dict[str, Any] = json.loads(line)
    return event


async def test_tail_shows_the_namespace_created_event_of_a_new_namespace(
    stack: Stack, cli: Cli, unique: str
) -> None:
    await create_namespace(stack.client, unique)

    event = await created_event(cli, stack, unique)

    assert event["type"] == CREATED
    assert event["seq"] >= 1
    assert event["subject"] == f"namespaces/{unique}"
    assert event["namespace"] == unique
    assert event["data"]["namespace"] == unique
    assert event["time"]


async def test_from_seq_starts_at_that_sequence_not_after_it(stack: Stack, cli: Cli, unique: str) -> None:
    await create_namespace(stack.client, f"{unique}-a")
    await create_namespace(stack.client, f"{unique}-b")
    second = await created_event(cli, stack, f"{unique}-b")

    result = await cli.run(
        "--api-url", stack.url, "events", "tail", "--type", CREATED,
        "--from-seq", str(second["seq"]), "--limit", "1", "--output", "jsonl",
    )  # fmt: skip

    assert result.code == 0, result.stderr
    assert [json.loads(line)["seq"] for line in result.lines()] == [second["seq"]]


async def test_table_output_has_a_header_and_one_row_per_event(stack: Stack, cli: Cli, unique: str) -> None:
    await create_namespace(stack.client, unique)

    result = await cli.run(
        "--api-url", stack.url, "events", "tail", "--namespace", unique,
        "--from-seq", "1", "--limit", "1", "--output", "table",
    )  # fmt: skip

    assert result.code == 0, result.stderr
    header, row = result.lines()
    assert header.split() == ["SEQ", "TIME", "TYPE", "SUBJECT", "DATA"]
    assert row.split()[2:4] == [CREATED, f"namespaces/{unique}"]
    assert json.loads(row.split(maxsplit=4)[4])["namespace"] == unique


async def test_a_cursor_beyond_the_stream_is_an_error_with_the_servers_explanation(
    stack: Stack, cli: Cli
) -> None:
    result = await cli.run(
        "--api-url", stack.url, "events", "tail", "--from-seq", "999999999", "--limit", "1"
    )

    assert result.code == 1
    assert result.stdout == ""
    assert "is not in the stream" in result.stderr
    assert "410 cursor_expired" in result.stderr


async def test_an_invalid_filter_is_an_error_with_the_servers_explanation(stack: Stack, cli: Cli) -> None:
    result = await cli.run("--api-url", stack.url, "events", "tail", "--type", "created", "--limit", "1")

    assert result.code == 1
    assert "'created' is not of the form assay.<service>.<name>" in result.stderr
    assert "422" in result.stderr


async def test_tail_carries_on_after_the_gateway_restarts(stack: Stack, cli: Cli, unique: str) -> None:
    await create_namespace(stack.client, f"{unique}-before")
    before = await created_event(cli, stack, f"{unique}-before")
    tail = await asyncio.create_subprocess_exec(
        ASSAY, "--api-url", stack.url, "events", "tail", "--type", CREATED,
        "--from-seq", str(before["seq"]), "--limit", "2", "--output", "jsonl",
        env=cli.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert tail.stdout is not None
    try:
        first = json.loads(await asyncio.wait_for(tail.stdout.readline(), 30))
        await stack.platform.kill_service("gateway")
        await stack.platform.start_service("gateway")
        await create_namespace(stack.client, f"{unique}-after")
        second = json.loads(await asyncio.wait_for(tail.stdout.readline(), 60))
        code = await asyncio.wait_for(tail.wait(), 10)
    finally:
        if tail.returncode is None:
            tail.kill()
            await tail.wait()

    assert code == 0
    assert first["data"]["namespace"] == f"{unique}-before"
    assert second["data"]["namespace"] == f"{unique}-after"
    assert second["seq"] > first["seq"]
