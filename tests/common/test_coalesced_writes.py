"""Writes gathered per turn of the event loop, over a real loopback connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from assay_common.coalesced_writes import CoalescedWrites


@dataclass
class Counted:
    """The real transport of one end, counting the writes that reach it."""

    transport: asyncio.Transport
    writes: list[bytes] = field(default_factory=list)

    def wrapped(self) -> CoalescedWrites:
        real_write = self.transport.write

        def write(data: bytes | bytearray | memoryview) -> None:
            self.writes.append(bytes(data))
            real_write(data)

        self.transport.write = write  # type: ignore[method-assign]
        return CoalescedWrites(self.transport)


@asynccontextmanager
async def connection() -> AsyncIterator[tuple[Counted, asyncio.StreamReader]]:
    """A loopback connection: the server end's transport, and the client end's reader."""
    accepted: asyncio.Future[asyncio.Transport] = asyncio.get_running_loop().create_future()

    async def on_connect(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(writer.transport)  # type: ignore[arg-type]

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield Counted(await asyncio.wait_for(accepted, 5)), reader
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


async def test_writes_of_one_turn_reach_the_socket_as_one() -> None:
    async with connection() as (server_end, reader):
        transport = server_end.wrapped()
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        transport.writelines([b"he", b"llo"])
        assert server_end.writes == [], "nothing is sent before the turn ends"
        received = await asyncio.wait_for(reader.readexactly(43), 5)
        assert received == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
        assert len(server_end.writes) == 1


async def test_writes_of_later_turns_go_out_on_their_own_and_close_sends_what_waits() -> None:
    async with connection() as (server_end, reader):
        transport = server_end.wrapped()
        transport.write(b"first ")
        assert await asyncio.wait_for(reader.readexactly(6), 5) == b"first "
        transport.write(b"second")
        transport.close()
        assert await asyncio.wait_for(reader.read(), 5) == b"second"
        assert server_end.writes == [b"first ", b"second"]
        assert transport.is_closing()


async def test_an_aborted_transport_sends_nothing_that_waited() -> None:
    async with connection() as (server_end, reader):
        transport = server_end.wrapped()
        transport.write(b"never sent")
        transport.abort()
        try:
            rest = await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:  # an abort may reach the peer as a reset
            rest = b""
        assert rest == b""
        assert server_end.writes == []
