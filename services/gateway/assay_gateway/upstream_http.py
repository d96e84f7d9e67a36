"""HTTP/1.1 to the services for the proxy: pooled keep-alive connections read with httptools.

The proxy sends every request it forwards through here. A general client (aiohttp) spent about a
quarter of the gateway's CPU per proxied request building and tracking objects the proxy never
uses (its request and response objects, header multidicts, per-read timers, tracing hooks); this
one writes a request's head (and a body in hand) in one write and parses the answer with
httptools, the parser the gateway's own server (uvicorn) already uses. It does only what a
reverse proxy needs: a request's head and body as given (a body streamed in chunks when its
length is unknown), the answer's status, raw header fields and body, read whole or streamed with
flow control. aiohttp stays for the gateway's other calls (documents, probes, the JWKS), where its
conveniences matter more than its cost.

Errors, all `UpstreamError`: `UpstreamRefused` (no connection: the next replica may take the
request, nothing was sent), `UpstreamConnectTimeout`, `UpstreamTimeout` (nothing arrived for the
read timeout) and `UpstreamBroken` (the connection ended, or the answer was not HTTP, before the
answer was complete).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

#: A streamed answer's bytes waiting to be sent on; beyond this the service's socket is not read.
READ_BUFFER_BYTES = 256 * 1024
_CRLF = b"\r\n"


class UpstreamError(Exception):
    """A service could not be reached or did not answer properly."""


class UpstreamRefused(UpstreamError):
    """No connection could be made (refused, unresolvable, unreachable); nothing was sent."""


class UpstreamConnectTimeout(UpstreamError):
    """The connection was not accepted within the connect timeout."""


class UpstreamTimeout(UpstreamError):
    """Nothing arrived from the service within the read timeout."""


class UpstreamBroken(UpstreamError):
    """The connection ended, or what came was not HTTP, before the answer was complete."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a service: one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float) -> None:
        self._loop = loop
        self._read_timeout = read_timeout
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self.closed = False
        self.idle_since = 0.0
        self._start_exchange(head_only=False)

    def _start_exchange(self, *, head_only: bool) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_complete = False
        self.complete = False
        self._keep_alive = False
        self._head_only = head_only
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._failure: UpstreamError | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's, only alike.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.complete:
            return  # nothing is expected between exchanges; the connection will not be reused
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamBroken(f"the answer is not HTTP/1.1 ({type(exc).__name__})"))
            self.close()

    def eof_received(self) -> bool:
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail(UpstreamBroken("the connection ended before the answer was complete"))
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.head_complete = True
        if self._head_only:
            # The answer to HEAD has no body whatever its Content-Length says; the parser cannot
            # be told so, and the connection is closed after it instead of being reused.
            self.complete = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > READ_BUFFER_BYTES and self._transport is not None:
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        # Asked here: once the callback returns, the parser has forgotten the message.
        self._keep_alive = self._parser.should_keep_alive()
        self.complete = True
        self._wake()

    # the exchange

    @property
    def reusable(self) -> bool:
        return self.complete and self._keep_alive and not self.closed and not self._head_only

    def send(self, head: bytes, method: str) -> None:
        assert self._transport is not None
        self._start_exchange(head_only=method == "HEAD")
        self._transport.write(head)

    async def send_body(self, chunks: AsyncIterator[bytes], *, chunked: bool) -> None:
        """Write a streamed body, as it comes, waiting while the socket's buffer is full."""
        assert self._transport is not None
        async for chunk in chunks:
            if self.closed:
                break
            if not chunk:
                continue
            self._transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if self._writable is not None:
                await self._writable
        if chunked and not self.closed:
            self._transport.write(b"0\r\n\r\n")

    async def head(self) -> None:
        """Wait for the answer's status line and header fields."""
        while not self.head_complete:
            await self._next()

    async def chunk(self) -> bytes:
        """The answer's next bytes as they arrive; empty once it is complete."""
        while not self._body:
            if self.complete:
                return b""
            await self._next()
        chunk = self._body.popleft()
        self._buffered -= len(chunk)
        if self._buffered <= READ_BUFFER_BYTES and self._transport is not None and not self.closed:
            self._transport.resume_reading()
        return chunk

    async def _next(self) -> None:
        """Wait until the parser or the connection has news; `UpstreamTimeout` after the read
        timeout without any, the failure of the exchange when it failed."""
        if self._failure is not None:
            raise self._failure
        waiter = self._waiter = self._loop.create_future()
        timer = self._loop.call_later(self._read_timeout, _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._failure is not None:
            raise self._failure

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, failure: UpstreamError) -> None:
        if self._failure is None:
            self._failure = failure

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()


def _time_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout("the service sent nothing within the read timeout"))


class UpstreamAnswer:
    """A service's answer: its status line and header fields, then its body (read whole or
    streamed). `release()` must follow, once the body was read or is no longer wanted."""

    def __init__(self, pool: UpstreamConnections, key: _Key, connection: _Connection) -> None:
        self._pool = pool
        self._key = key
        self._connection: _Connection | None = connection
        self.status = connection.status
        #: As the service sent them (names in its case).
        self.headers = connection.headers

    def header(self, name: bytes) -> bytes | None:
        """The first field named `name` (lower case)."""
        return next((value for field, value in self.headers if field.lower() == name), None)

    async def read(self) -> bytes:
        """The whole body."""
        return b"".join([chunk async for chunk in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, in the pieces it arrives in."""
        connection = self._connection
        assert connection is not None, "the answer was released"
        while chunk := await connection.chunk():
            yield chunk

    def release(self) -> None:
        """The connection back to the pool when the answer was read to its end, closed otherwise."""
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.put_back(self._key, connection)


#: Where a service listens: scheme, host, port.
_Key = tuple[str, str, int]


class UpstreamConnections:
    """Keep-alive connections to the services, at most `limit` in use at once.

    An idle connection is reused (the most recent first) until `keepalive_expiry` seconds after
    its last exchange; the services' servers close theirs later (uvicorn after 5 s), so a request
    is never written to a connection being closed at that moment.
    """

    def __init__(
        self, *, limit: int, connect_timeout: float, read_timeout: float, keepalive_expiry: float
    ) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[_Key, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def request(
        self,
        base_url: str,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes] | None,
    ) -> UpstreamAnswer:
        """Send `method target` with `headers` and `body` to the service at `base_url`; its
        answer once its head has arrived. Host and the body's framing (Content-Length, or chunks
        for a streamed body of unknown length) are set here."""
        key = _address(base_url)
        given_length = None
        head = [
            b"%s %s HTTP/1.1\r\nhost: %s:%d\r\n"
            % (method.encode(), target.encode("latin-1"), key[1].encode(), key[2])
        ]
        for name, value in headers:
            if name.lower() == b"content-length":
                given_length = value.strip()
            else:
                head.append(name + b": " + value + _CRLF)
        streamed = body is not None and not isinstance(body, bytes)
        chunked = streamed and not (given_length and given_length.isdigit())
        if isinstance(body, bytes):
            head.append(b"content-length: %d\r\n\r\n%s" % (len(body), body))
        elif chunked:
            head.append(b"transfer-encoding: chunked\r\n\r\n")
        elif streamed:
            head.append(b"content-length: %s\r\n\r\n" % given_length)
        else:
            head.append(_CRLF)
        await self._slots.acquire()
        try:
            connection = await self._connection(key)
        except BaseException:
            self._slots.release()
            raise
        try:
            connection.send(b"".join(head), method)
            if streamed:
                assert body is not None and not isinstance(body, bytes)
                await connection.send_body(body, chunked=chunked)
            await connection.head()
        except BaseException:
            connection.abort()
            self._slots.release()
            raise
        return UpstreamAnswer(self, key, connection)

    async def _connection(self, key: _Key) -> _Connection:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self._keepalive_expiry:
                return connection
            connection.close()
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        tls = None
        if scheme == "https":
            tls = self._tls = self._tls or ssl.create_default_context()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(loop, self._read_timeout), host, port, ssl=tls),
                self._connect_timeout,
            )
        except TimeoutError:
            raise UpstreamConnectTimeout(f"{host}:{port} did not accept a connection in time") from None
        except OSError as exc:
            raise UpstreamRefused(f"{host}:{port} refused the connection ({type(exc).__name__})") from None
        return connection

    def put_back(self, key: _Key, connection: _Connection) -> None:
        """A connection whose exchange is over: kept for the next when it can be, closed otherwise."""
        if connection.reusable:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(key, []).append(connection)
        else:
            connection.close()
        self._slots.release()

    def close(self) -> None:
        """Close every idle connection (those in use close as their answers are released)."""
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()


@functools.cache
def _address(base_url: str) -> _Key:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a service's URL must be http(s)://host[:port]: {base_url!r}")
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
