"""The proxy's HTTP/1.1 client against a real loopback server whose answers each test writes byte
by byte (requests parsed with httptools, as a service's uvicorn parses them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httptools
import pytest

from assay.local import free_port
from assay_gateway.upstream_http import (
    UpstreamBroken,
    UpstreamConnections,
    UpstreamRefused,
    UpstreamTimeout,
)


@dataclass
class Received:
    method: str = ""
    target: str = ""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    #: The connection it came on (0, 1, … in the order they were opened).
    connection: int = 0

    def header(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key.lower() == name]


Answerer = Callable[[Received, asyncio.StreamWriter], Awaitable[None]]


async def ok(_: Received, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Kind: plain\r\n\r\nok")


async def unanswered(_: Received, writer: asyncio.StreamWriter) -> None:
    """No answer (the connection stays open)."""


@dataclass
class Server:
    """Answers each request with `answer`; records what came and which connections closed."""

    answer: Answerer = ok
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    opened: int = 0
    closed: asyncio.Queue[int] = field(default_factory=asyncio.Queue)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number, self.opened = self.opened, self.opened + 1
        complete: list[Received] = []
        current = Received(connection=number)

        class Callbacks:
            def on_url(self, url: bytes) -> None:
                current.target += url.decode()

            def on_header(self, name: bytes, value: bytes) -> None:
                current.headers.append((name, value))

            def on_body(self, body: bytes) -> None:
                current.body += body

            def on_message_complete(self) -> None:
                nonlocal current
                current.method = parser.get_method().decode()
                complete.append(current)
                current = Received(connection=number)

        parser = httptools.HttpRequestParser(Callbacks())
        try:
            while data := await reader.read(65536):
                parser.feed_data(data)
                while complete:
                    request = complete.pop(0)
                    self.received.append(request)
                    self.arrived.put_nowait(request)
                    await self.answer(request, writer)
                    await writer.drain()
        except (ConnectionError, httptools.HttpParserError):
            pass
        finally:
            writer.close()
            self.closed.put_nowait(number)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    served = Server()
    listening = await asyncio.start_server(served.serve, "127.0.0.1", 0)
    served.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield served
        listening.close()


def connections(**overrides: float) -> UpstreamConnections:
    settings: dict[str, float] = {"connect_timeout": 2.0, "read_timeout": 5.0, "keepalive_expiry": 4.0}
    settings.update(overrides)
    return UpstreamConnections(limit=10, **settings)


def url_of(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


async def test_requests_go_out_as_given_and_share_one_kept_alive_connection(server: Server) -> None:
    pool = connections()
    first = await pool.request(url_of(server), "POST", "/a?b=c", [(b"x-one", b"1")], b'{"k": 1}')
    assert (first.status, first.header(b"x-kind"), await first.read()) == (200, b"plain", b"ok")
    first.release()
    second = await pool.request(url_of(server), "GET", "/second", [(b"Content-Length", b"99")], None)
    assert await second.read() == b"ok"
    second.release()

    sent, then = server.received
    assert (sent.method, sent.target, sent.body) == ("POST", "/a?b=c", b'{"k": 1}')
    assert sent.header(b"host") == [f"127.0.0.1:{server.port}".encode()]
    assert sent.header(b"x-one") == [b"1"]
    assert sent.header(b"content-length") == [b"8"]  # the body's length, set here
    assert (then.method, then.connection) == ("GET", 0)
    assert then.header(b"content-length") == []  # a stale length of a body not sent is dropped
    pool.close()


async def test_a_body_of_unknown_length_goes_in_chunks_and_one_of_given_length_as_is(server: Server) -> None:
    pool = connections()

    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b"first ", b"", b"second"):
            yield piece

    chunked = await pool.request(url_of(server), "PUT", "/c", [], pieces())
    await chunked.read()
    chunked.release()
    known = await pool.request(url_of(server), "PUT", "/k", [(b"content-length", b"12")], pieces())
    await known.read()
    known.release()

    streamed, sized = server.received
    assert (streamed.body, streamed.header(b"transfer-encoding")) == (b"first second", [b"chunked"])
    assert (sized.body, sized.header(b"content-length"), sized.header(b"transfer-encoding")) == (
        b"first second",
        [b"12"],
        [],
    )
    pool.close()


async def test_an_answer_streams_in_the_pieces_it_is_sent_in(server: Server) -> None:
    go_on = asyncio.Event()

    async def in_two_parts(_: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await go_on.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")

    server.answer = in_two_parts
    pool = connections()
    answer = await pool.request(url_of(server), "GET", "/stream", [], None)
    chunks = answer.chunks()
    assert await anext(chunks) == b"first"  # before the rest was even sent
    go_on.set()
    assert [chunk async for chunk in chunks] == [b"second"]
    answer.release()
    again = await pool.request(url_of(server), "GET", "/again", [], None)
    again.release()
    assert [request.connection for request in server.received] == [0, 0]
    pool.close()


async def test_the_answer_to_head_has_no_body_and_its_connection_is_not_reused(server: Server) -> None:
    async def head_answer(_: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")

    server.answer = head_answer
    pool = connections()
    answer = await pool.request(url_of(server), "HEAD", "/h", [], None)
    assert (answer.status, await answer.read()) == (200, b"")
    answer.release()
    assert await asyncio.wait_for(server.closed.get(), 5) == 0
    server.answer = ok
    after = await pool.request(url_of(server), "GET", "/g", [], None)
    after.release()
    assert server.received[-1].connection == 1
    pool.close()


async def test_an_idle_connection_past_its_expiry_is_not_reused(server: Server) -> None:
    pool = connections(keepalive_expiry=0.0)
    for _ in range(2):
        answer = await pool.request(url_of(server), "GET", "/", [], None)
        answer.release()
    assert [request.connection for request in server.received] == [0, 1]
    pool.close()


async def test_an_answer_cut_short_or_not_http_is_broken(server: Server) -> None:
    async def cut_short(_: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        writer.close()

    server.answer = cut_short
    pool = connections()
    answer = await pool.request(url_of(server), "GET", "/", [], None)
    with pytest.raises(UpstreamBroken):
        await answer.read()
    answer.release()

    async def not_http(_: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")

    server.answer = not_http
    with pytest.raises(UpstreamBroken):
        await pool.request(url_of(server), "GET", "/", [], None)
    pool.close()


async def test_a_service_that_sends_nothing_times_out(server: Server) -> None:
    server.answer = unanswered
    pool = connections(read_timeout=0.2)
    with pytest.raises(UpstreamTimeout):
        await pool.request(url_of(server), "GET", "/", [], None)
    pool.close()


async def test_a_port_where_nothing_listens_is_refused() -> None:
    pool = connections()
    with pytest.raises(UpstreamRefused):
        await pool.request(f"http://127.0.0.1:{free_port()}", "GET", "/", [], None)


async def test_a_cancelled_exchange_closes_its_connection_and_frees_its_place(server: Server) -> None:
    server.answer = unanswered
    pool = UpstreamConnections(limit=1, connect_timeout=2.0, read_timeout=30.0, keepalive_expiry=4.0)
    waiting = asyncio.create_task(pool.request(url_of(server), "GET", "/", [], None))
    await asyncio.wait_for(server.arrived.get(), 5)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert await asyncio.wait_for(server.closed.get(), 5) == 0
    server.answer = ok
    answer = await asyncio.wait_for(pool.request(url_of(server), "GET", "/", [], None), 5)
    assert await answer.read() == b"ok"
    answer.release()
    pool.close()
