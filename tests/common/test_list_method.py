"""Vault's `LIST` method through uvicorn's httptools protocol (`assay_common.list_method`): over a
real socket, whole or in pieces, on a kept-alive connection, and without touching anything else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from assay.local import free_port
from assay_common.list_method import ListMethodProtocol


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers the method, path and body it was sent."""
    if scope["type"] != "http":
        return
    request = Request(scope, receive)
    body = (await request.body()).decode()
    await JSONResponse({"method": request.method, "path": request.url.path, "body": body})(
        scope, receive, send
    )


@pytest.fixture
async def server() -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(
        echo, host="127.0.0.1", port=port, http=ListMethodProtocol, log_config=None, lifespan="off"
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    deadline = asyncio.get_running_loop().time() + 10
    while not running.started:
        assert asyncio.get_running_loop().time() < deadline, "the server did not start"
        await asyncio.sleep(0.01)
    yield port
    running.should_exit = True
    await task


def request(method: str, path: str, body: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body.encode())}\r\n\r\n{body}"
    ).encode()


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and, from the echo application, its JSON (a refusal by the server has none)."""
    status_line = await reader.readline()
    headers = {}
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.decode().partition(":")
        headers[name.lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    found: dict[str, str] = json.loads(body) if headers.get("content-type") == "application/json" else {}
    return int(status_line.split()[1]), found


async def exchange(port: int, *pieces: bytes) -> tuple[int, dict[str, str]]:
    """Send `pieces` one write at a time (draining between), then read one answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0)  # let the server read each piece on its own where it can
        return await answer(reader)
    finally:
        writer.close()


async def test_list_reaches_the_app_as_list(server: int) -> None:
    assert await exchange(server, request("LIST", "/v1/secret/metadata/")) == (
        200,
        {"method": "LIST", "path": "/v1/secret/metadata/", "body": ""},
    )


async def test_list_split_across_reads_is_recognised(server: int) -> None:
    whole = request("LIST", "/v1/kv/metadata/app")
    assert (await exchange(server, whole[:1], whole[1:3], whole[3:]))[1]["method"] == "LIST"


async def test_other_methods_and_bodies_are_untouched(server: int) -> None:
    assert (await exchange(server, request("LINK", "/x")))[1]["method"] == "LINK"
    sent = request("POST", "/x", "LIST of things")
    head, _, body = sent.partition(b"\r\n\r\n")
    status, found = await exchange(server, head + b"\r\n\r\n", body)
    assert (status, found["method"], found["body"]) == (200, "POST", "LIST of things")
    assert (await exchange(server, request("LISTEN", "/x")))[0] == 400


async def test_each_request_of_a_kept_alive_connection_is_recognised(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    try:
        methods = []
        for method in ("GET", "LIST", "POST", "LIST", "LIST"):
            writer.write(request(method, "/v1/kv/metadata/", "LIST" if method == "POST" else ""))
            await writer.drain()
            methods.append((await answer(reader))[1]["method"])
    finally:
        writer.close()
    assert methods == ["GET", "LIST", "POST", "LIST", "LIST"]
