"""What the audit tests share: receivers run by the test on loopback (a webhook that can fail or
go away, syslog over UDP and TCP) and readers of what a sink wrote."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from aiohttp import web

from assay.local import free_port

#: RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD`, then the BOM and the message.
SYSLOG = re.compile(rb"^<(\d+)>1 (\S+Z) (\S+) (\S+) (\d+) (\S+) - \xef\xbb\xbf(.*)$", re.S)


class Webhook:
    """A webhook receiver on a loopback port of its own; it can answer 503 or stop listening."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/audit"
        self.failing = False
        self.refused = 0
        #: The bodies it accepted, with their headers (names in lower case), in order.
        self.accepted: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.failing:
            self.refused += 1
            return web.Response(status=503)
        self.accepted.append(body)
        self.headers.append({name.lower(): value for name, value in request.headers.items()})
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/audit", self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def signed(self, key: str) -> bool:
        """Whether every accepted body carries its `Assay-Signature` under `key`."""
        return all(
            headers.get("assay-signature")
            == "v1="
            + hmac.new(
                key.encode(), f"{headers['assay-timestamp']}.".encode() + body, hashlib.sha256
            ).hexdigest()
            for body, headers in zip(self.accepted, self.headers, strict=True)
        )


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Webhook]:
    hook = Webhook()
    await hook.start()
    try:
        yield hook
    finally:
        await hook.stop()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, received: list[bytes]) -> None:
        self.received = received

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)


@asynccontextmanager
async def syslog_receiver(protocol: str) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A syslog receiver on loopback: its port and the messages it got (octet counting on TCP)."""
    port = free_port()
    received: list[bytes] = []
    if protocol == "udp":
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Datagrams(received), local_addr=("127.0.0.1", port)
        )
        try:
            yield port, received
        finally:
            transport.close()
        return

    async def frames(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(asyncio.IncompleteReadError, ValueError):
            while True:
                length = int((await reader.readuntil(b" "))[:-1])
                received.append(await reader.readexactly(length))
        writer.close()

    server = await asyncio.start_server(frames, "127.0.0.1", port)
    try:
        yield port, received
    finally:
        server.close()


def lines_of(*files: Path) -> list[bytes]:
    """The lines of `files` (those that exist), one after the other."""
    return [line for file in files if file.exists() for line in file.read_bytes().splitlines()]


async def holds(value: bool) -> bool:
    """`value`, for `eventually` (which awaits its predicate)."""
    return value
