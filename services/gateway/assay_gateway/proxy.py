"""The streaming reverse proxy: one request in, the same request to the service, its answer back.

Large and open-ended bodies stream both ways; small ones (`BUFFERED_REQUEST_BYTES`,
`BUFFERED_ANSWER_BYTES`, with a Content-Length) are read whole and sent on in one piece, as is a
request body the gateway had to read to authorize the request (always exactly as received).
Headers are cleaned of hop-by-hop fields in both directions (RFC 9110 §7.6.1), and the service
learns who called from the internal token alone: anything a client sends that looks like one is
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from assay_common.disconnects import unless_disconnected
from assay_common.errors import BadGateway, GatewayTimeout, Unavailable
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal
from assay_common.telemetry import inject_trace_headers
from assay_gateway.upstream_http import (
    UpstreamAnswer,
    UpstreamBroken,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamRefused,
    UpstreamTimeout,
)
from assay_gateway.upstreams import Upstreams

log = logging.getLogger("assay.gateway.proxy")
tracer = trace.get_tracer("assay.gateway.proxy")

#: Connection-scoped fields (RFC 9110 §7.6.1, plus the de-facto Keep-Alive and Proxy-Connection).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

#: Request fields the gateway sets itself: the client's values must never reach a service.
#: `x-assay-*` is the internal namespace (the internal token and any identity field that may join it);
#: `expect` is answered by the gateway's own server, not forwarded.
_REPLACED_ON_REQUEST = frozenset(
    {
        b"host",
        b"expect",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-request-id",
        b"traceparent",
        b"tracestate",
    }
)
_INTERNAL_PREFIX = b"x-assay-"
CLIENT_CLOSED_REQUEST = 499
#: Answers up to this size (with a Content-Length) are read whole and sent on in one piece; larger
#: or open-ended ones (event streams) are streamed.
BUFFERED_ANSWER_BYTES = 256 * 1024

#: Request bodies up to this size (with a Content-Length) are read whole before they are sent on;
#: larger or open-ended ones stream.
BUFFERED_REQUEST_BYTES = 64 * 1024

#: Response fields the gateway's own server and middleware write; the service's copies would repeat them.
_REPLACED_ON_RESPONSE = frozenset({b"date", b"server", b"x-request-id"})


def connection_scoped(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """The hop-by-hop field names of a message: the fixed ones and those its Connection field lists."""
    listed = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
        if token.strip()
    }
    return HOP_BY_HOP | listed


def request_headers(request: Request, *, token: str, request_id: str) -> list[tuple[bytes, bytes]]:
    """The headers a service receives for `request`."""
    raw = request.scope["headers"]
    dropped = connection_scoped(raw) | _REPLACED_ON_REQUEST
    headers = [
        (name, value) for name, value in raw if name not in dropped and not name.startswith(_INTERNAL_PREFIX)
    ]
    client_host = request.client.host if request.client else "unknown"
    prior = ", ".join(request.headers.getlist("x-forwarded-for"))
    headers += [
        (b"x-forwarded-for", f"{prior}, {client_host}".encode("latin-1") if prior else client_host.encode()),
        # The scheme as the server saw it (building `request.url` for it costs a URL per request).
        (b"x-forwarded-proto", str(request.scope.get("scheme", "http")).encode()),
        (b"x-request-id", request_id.encode("latin-1")),
        (INTERNAL_TOKEN_HEADER.encode(), token.encode()),
    ]
    host = request.headers.get("host")
    if host:
        headers.append((b"x-forwarded-host", host.encode("latin-1")))
    headers += [(k.encode(), v.encode()) for k, v in inject_trace_headers({}).items()]
    return headers


def response_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers a client receives from a service's answer."""
    dropped = connection_scoped(raw) | _REPLACED_ON_RESPONSE
    return [(name.lower(), value) for name, value in raw if name.lower() not in dropped]


def _has_body(request: Request) -> bool:
    return "content-length" in request.headers or "transfer-encoding" in request.headers


def _small_body(request: Request) -> bool:
    """Whether the request announces a body of at most `BUFFERED_REQUEST_BYTES`."""
    length = request.headers.get("content-length")
    return length is not None and length.isdigit() and 0 < int(length) <= BUFFERED_REQUEST_BYTES


async def _read_then_signal(body: AsyncIterator[bytes], done: asyncio.Event) -> AsyncIterator[bytes]:
    """The request body; once it is all read, `receive()` is free to watch for a disconnect."""
    async for chunk in body:
        yield chunk
    done.set()


async def _discard(answer: Response) -> None:
    """Release an answer nobody is left to receive."""
    if isinstance(answer, UpstreamResponse):
        answer.upstream.release()


class UpstreamResponse(Response):
    """Streams a service's answer to the client and always returns its connection to the pool."""

    def __init__(self, upstream: UpstreamAnswer, service: str) -> None:
        self.upstream = upstream
        self.service = service
        self.status_code = upstream.status
        self.background = None
        self.raw_headers = response_headers(upstream.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # A client that leaves mid-answer frees the service at once (closing our connection to
            # it); a server may also report it by failing the write (ASGI 2.4).
            with contextlib.suppress(OSError):
                await unless_disconnected(receive, self._relay(send))
        finally:
            # Back to the pool when the answer was read to its end, closed otherwise.
            self.upstream.release()

    async def _relay(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self.upstream.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:
            # The status line is gone already; breaking the connection is the only honest signal left.
            log.warning("%s broke off its answer: %s", self.service, type(exc).__name__)
            raise
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@dataclass(frozen=True)
class Outgoing:
    """The request as the service receives it."""

    method: str
    #: The raw path and query, as the client sent them.
    target: str
    body: AsyncIterator[bytes] | bytes | None
    headers: list[tuple[bytes, bytes]]


class BufferedResponse(Response):
    """A service's answer read whole: sent to the client in one go."""

    def __init__(self, upstream: UpstreamAnswer, body: bytes) -> None:
        self.status_code = upstream.status
        self.background = None
        self.body = body
        self.raw_headers = response_headers(upstream.headers)


class GatewayStopping(Unavailable):
    code = "gateway_stopping"
    title = "The gateway is stopping"


class Proxy:
    def __init__(self, upstreams: Upstreams, minter: InternalTokenMinter) -> None:
        self.upstreams = upstreams
        self.minter = minter
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._stopping = False

    async def forward(
        self, request: Request, service: str, principal: Principal, body: bytes | None = None
    ) -> Response:
        """Send `request` to `service` on behalf of `principal`, with `body` when it has been read
        already (else the request's body streams through); 502 if it is down, 504 if it is slow."""
        request_id: str = request.state.request_id
        # The raw path, not the decoded one, so that `%2F` and friends reach the service unchanged.
        path_and_query: bytes = request.scope.get("raw_path") or request.url.path.encode()
        if request.scope.get("query_string"):
            path_and_query += b"?" + request.scope["query_string"]
        body_read = asyncio.Event()
        sent: AsyncIterator[bytes] | bytes | None = body
        if body is None and _small_body(request):
            # Read whole, it goes out with the request's head in one write (streamed, in several).
            try:
                sent = await request.body()
            except ClientDisconnect:
                return Response(status_code=CLIENT_CLOSED_REQUEST)
            body_read.set()
        elif body is None and _has_body(request):
            sent = _read_then_signal(request.stream(), body_read)
        else:
            body_read.set()
        # A span of its own only in a trace that is recorded: unrecorded, it would only give the
        # service another parent id to pass on, at a cost on every proxied request.
        exchange_span = (
            tracer.start_as_current_span(f"proxy {service}", kind=trace.SpanKind.CLIENT)
            if trace.get_current_span().is_recording()
            else contextlib.nullcontext()
        )
        with exchange_span:
            outgoing = Outgoing(
                request.method,
                path_and_query.decode("latin-1"),
                sent,
                request_headers(
                    request, token=self.minter.mint(principal, audience=service), request_id=request_id
                ),
            )
            try:
                # A client that gives up (a worker's long-poll, say) is not answered by the service
                # for nobody: the upstream request is cancelled with it.
                answer = await unless_disconnected(
                    request.receive,
                    self._exchange(outgoing, service),
                    listen_after=body_read,
                    discard=_discard,
                )
            except ClientDisconnect:
                answer = None
        if answer is None:
            # Nobody is left to answer; the status is for the metrics (nginx's "client closed request").
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        return answer

    async def stop_on(self, stopping: asyncio.Event) -> None:
        """Once `stopping` is set, cut short every exchange still waiting for its service: the
        server waits for open requests before it stops, and a long-poll must not hold it up."""
        await stopping.wait()
        self._stopping = True
        for exchange in self._in_flight:
            exchange.cancel()

    async def _exchange(self, outgoing: Outgoing, service: str) -> Response:
        """The service's answer: read whole when it is small (most API answers), streamed otherwise."""
        if self._stopping:
            raise GatewayStopping("the gateway is restarting; send the request again")
        current = asyncio.current_task()
        assert current is not None
        self._in_flight.add(current)
        try:
            upstream = await self._send(outgoing, service)
            length = upstream.header(b"content-length")
            if length is None or not length.isdigit() or int(length) > BUFFERED_ANSWER_BYTES:
                return UpstreamResponse(upstream, service)
            try:
                body = await upstream.read()
            except UpstreamError as exc:
                log.warning("%s broke off its answer: %s", service, type(exc).__name__)
                raise BadGateway(f"the {service} service broke off its answer") from None
            finally:
                upstream.release()
            return BufferedResponse(upstream, body)
        except asyncio.CancelledError:
            if self._stopping:
                raise GatewayStopping("the gateway is restarting; send the request again") from None
            raise
        finally:
            self._in_flight.discard(current)

    async def _send(self, outgoing: Outgoing, service: str) -> UpstreamAnswer:
        """Send to the replica whose turn it is; one that refuses the connection passes the
        request to the next (nothing was sent yet: a body is read only once connected)."""
        *others, last = self.upstreams.in_turn(service)
        for base in others:
            try:
                return await self._send_to(base, outgoing, service, failover=True)
            except UpstreamRefused as exc:
                log.warning(
                    "a replica of %s refused a connection (%s); trying the next", service, type(exc).__name__
                )
        return await self._send_to(last, outgoing, service, failover=False)

    async def _send_to(
        self, base: str, outgoing: Outgoing, service: str, *, failover: bool
    ) -> UpstreamAnswer:
        try:
            return await self.upstreams.connections.request(
                base, outgoing.method, outgoing.target, outgoing.headers, outgoing.body
            )
        except UpstreamRefused:
            if failover:
                raise
            log.warning("%s unreachable: UpstreamRefused", service)
            raise BadGateway(f"the {service} service is not reachable") from None
        except UpstreamConnectTimeout:
            raise BadGateway(f"the {service} service did not accept a connection in time") from None
        except UpstreamTimeout:
            raise GatewayTimeout(f"the {service} service did not answer in time") from None
        except UpstreamBroken as exc:
            log.warning("%s unreachable: %s", service, exc)
            raise BadGateway(f"the {service} service is not reachable") from None
