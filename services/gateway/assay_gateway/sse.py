"""Server-Sent Events (WHATWG HTML §9.2) from an event feed: framing, keep-alives, disconnects."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from assay_common.disconnects import stop, unless_disconnected
from assay_common.service import shutting_down
from assay_gateway.feed import EventFeed, EventFilter, StreamEvent

#: Tells a browser's EventSource how soon to reconnect (ms) after the connection drops.
RECONNECT_MILLISECONDS = 2000
KEEPALIVE = b": keep-alive\n\n"


def frame(item: StreamEvent) -> bytes:
    """`id` is the stream sequence, the cursor a client hands back as Last-Event-ID."""
    # orjson never emits a line break, so the CloudEvent fits the single `data:` line it must.
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (item.sequence, item.type.encode(), orjson.dumps(item.event))


class EventStreamResponse(Response):
    """Streams matching events until the client leaves; the feed is closed however that happens."""

    media_type = "text/event-stream"

    def __init__(self, feed: EventFeed, event_filter: EventFilter, keepalive_seconds: float) -> None:
        self.feed = feed
        self.filter = event_filter
        self.keepalive = keepalive_seconds
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A stream never ends by itself; the server would wait for it before shutting down.
        stopping = asyncio.create_task(shutting_down(scope["app"]).wait())
        streaming = asyncio.create_task(self._until_disconnected(receive, send))
        try:
            await asyncio.wait({streaming, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await stop(streaming)
            await stop(stopping)
            await asyncio.shield(self.feed.close())
        if stopping.done() and not stopping.cancelled():
            # The client's EventSource reconnects (to another replica) with its Last-Event-ID.
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _until_disconnected(self, receive: Receive, send: Send) -> None:
        # A server may also report the departed client by failing the write (ASGI 2.4).
        with contextlib.suppress(OSError):
            await unless_disconnected(receive, self._stream(send))

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        # A first body chunk makes servers and proxies flush the headers: the client knows at once
        # that it is subscribed. Its `id` (a block without data dispatches nothing) is where the
        # stream starts: a client that loses the connection before any event comes resumes from
        # there, so it misses nothing either.
        opened_after = self.feed.next_sequence - 1
        await send(
            {
                "type": "http.response.body",
                "body": b"retry: %d\nid: %d\n\n" % (RECONNECT_MILLISECONDS, opened_after),
                "more_body": True,
            }
        )
        loop = asyncio.get_running_loop()
        last_write = loop.time()
        while True:
            item = await self.feed.next(within=max(0.0, last_write + self.keepalive - loop.time()))
            if item is None:
                chunk = KEEPALIVE
            elif self.filter.matches(item.event):
                chunk = frame(item)
            else:
                continue
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            last_write = loop.time()
