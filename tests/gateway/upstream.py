"""A real HTTP/1.1 server on loopback whose bytes the test controls, standing in for a service.

It parses just enough HTTP to record exactly what the gateway sent and answers with exactly the
headers a test needs, including ones a real framework would refuse to emit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

#: Hop-by-hop fields the fake service puts on its `/echo` answer; none may reach the client.
HOP_BY_HOP_RESPONSE = [
    ("Connection", "X-Upstream-Hop"),
    ("X-Upstream-Hop", "must-not-pass"),
    ("Keep-Alive", "timeout=30"),
    ("Proxy-Authenticate", "Basic realm=upstream"),
    ("Proxy-Connection", "keep-alive"),
    ("Trailer", "X-Checksum"),
    ("Upgrade", "h2c"),
]


@dataclass
class ReceivedRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class FakeService:
    """Routes: `/readyz`, `/healthz`, `/version`, `/openapi.json` like a service that is not ready;
    `…/echo` answers with the request's headers plus hop-by-hop ones; `…/slow` never answers and
    sets `slow_abandoned` when the caller closes the connection;
    `…/chunks` sends one chunk, then the next only after `release_chunk` is set; `…/upload` sets
    `first_chunk_received` as soon as the first body chunk arrives."""

    requests: list[ReceivedRequest] = field(default_factory=list)
    release_chunk: asyncio.Event = field(default_factory=asyncio.Event)
    first_chunk_received: asyncio.Event = field(default_factory=asyncio.Event)
    slow_abandoned: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def last(self, path_suffix: str) -> ReceivedRequest:
        return next(r for r in reversed(self.requests) if r.target.split("?")[0].endswith(path_suffix))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while not reader.at_eof():
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
                method, target, _ = request_line.split(" ", 2)
                headers = [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in lines)]
                request = ReceivedRequest(method, target, headers)
                self.requests.append(request)
                request.body = b"".join([chunk async for chunk in self._body(reader, request)])
                await self._answer(request, reader, writer)
        writer.close()

    async def _body(self, reader: asyncio.StreamReader, request: ReceivedRequest) -> AsyncIterator[bytes]:
        length = request.header("content-length")
        if length:
            yield await reader.readexactly(int(length[0]))
            return
        if "chunked" not in ",".join(request.header("transfer-encoding")).lower():
            return
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return
            if request.target.endswith("/upload"):
                self.first_chunk_received.set()
            yield chunk[:-2]

    async def _answer(
        self, request: ReceivedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        path = request.target.split("?")[0]
        if path == "/readyz":
            checks = {"nats": "ok", "database": "down"}
            await _send(writer, 503, _json({"status": "not_ready", "service": "vault", "checks": checks}))
        elif path == "/healthz":
            await _send(writer, 200, _json({"status": "ok", "service": "vault"}))
        elif path == "/version":
            await _send(
                writer,
                200,
                _json({"service": "vault", "version": "9.9.9", "python": "3", "build": "f00dfeed"}),
            )
        elif path.endswith("/echo"):
            echo = _json({"headers": request.headers, "body": request.body.decode()})
            await _send(writer, 200, echo, [*HOP_BY_HOP_RESPONSE, ("X-Upstream-Ordinary", "kept")])
        elif path.endswith("/upload"):
            await _send(writer, 200, _json({"received": len(request.body)}))
        elif path.endswith("/slow"):
            hung_up = asyncio.create_task(reader.read(1))
            closing = asyncio.create_task(self._closing.wait())
            await asyncio.wait({hung_up, closing}, return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            if hung_up.done() and hung_up.result() == b"":
                self.slow_abandoned.set()
            hung_up.cancel()
        elif path.endswith("/chunks"):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n")
            writer.write(b"5\r\nfirst\r\n")
            await writer.drain()
            await self.release_chunk.wait()
            writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
            await writer.drain()
        else:
            await _send(writer, 404, b'{"detail": "not here"}')


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


async def _send(
    writer: asyncio.StreamWriter, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
) -> None:
    lines = [f"HTTP/1.1 {status} X", "content-type: application/json", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()
